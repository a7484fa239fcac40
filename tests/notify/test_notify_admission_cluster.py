"""spec.notify fuzzed against the real apiserver: it admits a webhook exactly when the
operator's model parses it, and a url in the spec is refused saying where it goes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.e2e.harness import example_documents
from tests.operator.test_admission_fuzz_cluster import admission_refusal

from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.api.v1alpha1.notify import PLAIN_URL

pytestmark = pytest.mark.cluster
kubernetes = pytest.importorskip("kubernetes")

BASE = example_documents(data_url="http://127.0.0.1:9")[1]
VALID = {"name": "team", "urlSecretRef": {"name": "hooks", "key": "url"}}
EVENTS = ["Promoted", "GateFailed", "ValidationFailed", "RolledBack", "SourceFailed"]

webhook = st.fixed_dictionaries(
    {
        "name": st.one_of(
            st.sampled_from(["team", "alerts", "a"]),
            st.sampled_from(["Team", "", "a" * 64, "-a", "a_b"]),
            st.from_regex(r"[a-z0-9\-]{0,8}", fullmatch=True),
        ),
        "urlSecretRef": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["hooks", "hooks", "Hooks", "", "a_b", "x" * 254]),
                "key": st.one_of(
                    st.sampled_from(["url", "slack", ".url", "a/b", "", "x" * 254]),
                    st.from_regex(r"[-._a-zA-Z0-9/ ]{0,6}", fullmatch=True),
                ),
            }
        ),
    },
    optional={
        "format": st.sampled_from(["JSON", "Slack", "slack", ""]),
        "events": st.lists(st.sampled_from([*EVENTS, "Deployed", "promoted"]), max_size=6),
        "url": st.sampled_from(["", "https://hooks.example.com/T0/B0/x", "x" * 600]),
    },
)
notify = st.one_of(
    st.fixed_dictionaries({"webhooks": st.lists(webhook, max_size=4)}),
    st.sampled_from([{}, {"webhooks": None}]),
)


def _only_the_url_is_wrong(doc: dict[str, Any]) -> bool:
    webhooks = doc["spec"]["notify"].get("webhooks") or []
    urls = [w["url"] for w in webhooks if "url" in w]
    if not urls or any(len(url) > 512 for url in urls):
        return False
    spec = copy.deepcopy(doc["spec"])
    for w in spec["notify"]["webhooks"]:
        w.pop("url", None)
    try:
        ModelPipelineSpec.model_validate(spec)
    except ValidationError:
        return False
    return True


def test_the_apiserver_admits_exactly_what_the_model_parses(
    crd: Path, kube_client: Any, namespace: str
) -> None:
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    seen = {"admitted": 0, "refused": 0, "url": 0}

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(notify=notify)
    @example(notify={"webhooks": [VALID]})
    @example(notify={"webhooks": [VALID, VALID]})  # a name twice
    @example(notify={"webhooks": [{**VALID, "url": "https://hooks.example.com/T0/B0/x"}]})
    @example(
        notify={
            "webhooks": [
                VALID,
                {**VALID, "name": "b"},
                {**VALID, "name": "c"},
                {**VALID, "name": "d"},
            ]
        }
    )
    def check(notify: dict[str, Any]) -> None:
        doc = copy.deepcopy(BASE)
        doc["spec"]["notify"] = notify
        try:
            ModelPipelineSpec.model_validate(doc["spec"])
            parsed = True
        except ValidationError:
            parsed = False
        message = admission_refusal(custom, namespace, doc)
        if message is not None:
            assert not parsed, f"the model parses what the apiserver refuses: {message}"
            if _only_the_url_is_wrong(doc):  # CEL runs only on a schema-valid object
                assert PLAIN_URL in message, message
                seen["url"] += 1
            seen["refused"] += 1
            return
        assert parsed, f"admitted but the operator cannot parse: {json.dumps(notify)}"
        seen["admitted"] += 1

    check()
    print(seen)
    assert seen["admitted"] > 5 and seen["refused"] > 5 and seen["url"], seen
