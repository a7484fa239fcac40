"""spec.serving.strategy at admission: the apiserver's CEL and the operator's model agree.

hypothesis writes strategies (types, steps with weights inside and outside 1-100, in and
out of order, repeated, too many; shadows with and without minAgreement, in and out of
0-1, durations out of bounds) on serving settings that allow a canary or a shadow and
that do not (an existing Deployment, an autoscaler, no replicas); the real apiserver with
the generated CRD judges each one (server-side dry run) and ModelPipelineSpec must refuse
exactly the same ones. An admitted canary's Deployment, and an admitted shadow's
Deployment and Service, built by the operator's own functions, are accepted too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.e2e.harness import example_documents
from tests.operator.test_admission_fuzz_cluster import admission_refusal

from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec
from modelpipe.manifests.canary import canary_deployment
from modelpipe.manifests.shadow import shadow_deployment, shadow_service

pytestmark = pytest.mark.cluster
kubernetes = pytest.importorskip("kubernetes")
ApiException = kubernetes.client.exceptions.ApiException

BASE = example_documents(data_url="http://127.0.0.1:9")[1]
EXAMPLES = 120

weights = st.one_of(st.integers(1, 100), st.integers(-5, 105), st.sampled_from([0, 1, 100, 101]))
steps = st.lists(
    st.fixed_dictionaries({"weight": weights}, optional={"pauseSeconds": st.integers(-1, 86401)}),
    max_size=12,
)
# Increasing weights within bounds: what a valid canary has, so both sides see many.
increasing = st.lists(st.integers(1, 100), min_size=1, max_size=10, unique=True).map(
    lambda weights: [{"weight": w, "pauseSeconds": 30} for w in sorted(weights)]
)
trials = st.fixed_dictionaries(
    {},
    optional={
        "minAgreement": st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 0.95, 1.0])),
        "durationSeconds": st.one_of(st.integers(10, 86400), st.sampled_from([0, 9, 86401])),
    },
)
strategies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["RollingUpdate", "Canary", "canary", "Shadow", "shadow"]),
            "steps": st.one_of(steps, steps.map(lambda s: sorted(s, key=lambda x: x["weight"]))),
            "shadow": trials,
        },
    ),
    st.fixed_dictionaries({"type": st.just("Canary"), "steps": increasing}),
    st.fixed_dictionaries({"type": st.just("Shadow"), "shadow": trials}),
    # A valid shadow trial: what a real one has, so both sides see many.
    st.fixed_dictionaries(
        {
            "type": st.just("Shadow"),
            "shadow": st.fixed_dictionaries(
                {"minAgreement": st.floats(0, 1)},
                optional={"durationSeconds": st.integers(10, 86400)},
            ),
        }
    ),
)
servings = st.sampled_from(
    [
        {"template": {}, "replicas": 4},
        {"template": {}},
        {"template": {}, "replicas": 0},
        {"deploymentName": "web"},
        {
            "template": {"resources": {"requests": {"cpu": "100m"}}},
            "autoscaling": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 70},
        },
    ]
)
CANARY = {"type": "Canary", "steps": [{"weight": 10}, {"weight": 50, "pauseSeconds": 30}]}
SHADOW = {"type": "Shadow", "shadow": {"minAgreement": 0.9}}


def test_admission_and_the_model_refuse_the_same_strategies(
    crd: Path, kube_client: Any, namespace: str
) -> None:
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    apps = kubernetes.client.AppsV1Api(kube_client)
    seen = {"refused": 0, "canary": 0, "shadow": 0}
    core = kubernetes.client.CoreV1Api(kube_client)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(serving=servings, strategy=strategies)
    @example(serving={"template": {}, "replicas": 4}, strategy=CANARY)
    @example(serving={"template": {}}, strategy={**CANARY, "steps": CANARY["steps"][::-1]})
    @example(serving={"template": {}, "replicas": 1}, strategy=SHADOW)
    @example(serving={"template": {}, "replicas": 0}, strategy=SHADOW)
    # Admitted canaries and shadows, so the counts below never hang on the draws (a CI run
    # drew 2 shadows).
    @example(
        serving={"template": {}, "replicas": 4}, strategy={**CANARY, "steps": [{"weight": 50}]}
    )
    @example(
        serving={"template": {}, "replicas": 4},
        strategy={**CANARY, "steps": [{"weight": 5, "pauseSeconds": 60}, {"weight": 60}]},
    )
    @example(
        serving={"template": {}, "replicas": 4}, strategy={**CANARY, "steps": [{"weight": 99}]}
    )
    @example(serving={"template": {}, "replicas": 4}, strategy=SHADOW)
    @example(serving={"template": {}}, strategy={**SHADOW, "shadow": {"minAgreement": 1.0}})
    @example(
        serving={"template": {}, "replicas": 4},
        strategy={"type": "Shadow", "shadow": {"minAgreement": 0.5, "durationSeconds": 600}},
    )
    def check(serving: dict[str, Any], strategy: dict[str, Any]) -> None:
        doc = copy.deepcopy(BASE)
        doc["metadata"] = {"name": "iris"}
        doc["spec"]["serving"] = {**serving, "strategy": strategy}
        refused = admission_refusal(custom, namespace, doc)
        try:
            spec = ModelPipelineSpec.model_validate(doc["spec"])
        except ValidationError as error:
            assert refused is not None, f"admitted {strategy} the operator refuses: {error}"
            seen["refused"] += 1
            return
        assert refused is None, f"the operator takes {strategy} the apiserver refused: {refused}"
        if spec.serving.strategy.canary:
            seen["canary"] += 1
            meta = Metadata(name="iris", namespace=namespace, uid="0000-fuzz")
            manifest = canary_deployment(
                meta=meta, spec=spec, version="v1", model_dir="/artifacts/iris/v1", replicas=1
            )
            apps.create_namespaced_deployment(namespace, manifest, dry_run="All")
        if spec.serving.strategy.shadowing:
            seen["shadow"] += 1
            meta = Metadata(name="iris", namespace=namespace, uid="0000-fuzz")
            made = shadow_deployment(
                meta=meta, spec=spec, version="v1", model_dir="/artifacts/iris/v1", replicas=1
            )
            apps.create_namespaced_deployment(namespace, made, dry_run="All")
            core.create_namespaced_service(
                namespace, shadow_service(meta=meta, spec=spec), dry_run="All"
            )

    check()
    print(seen)
    assert seen["refused"] > 10 and seen["canary"] > 3 and seen["shadow"] > 3, seen
