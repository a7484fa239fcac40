"""Fuzzing admission (issue 16): every spec the apiserver accepts, the operator can act on.

hypothesis writes ModelPipelines (names, resources, dataset URIs, estimator params,
metrics and tasks, the champion's significance test, serving settings, pod placement,
autoscaling, notify webhooks; valid and not), and the real apiserver with the generated
CRD and admission policy judges each one (server-side dry run). Either it is refused with
a message, or the operator's own functions parse it and build the Job, Deployment, Service
and autoscaler it would create, and the apiserver accepts those too (dry run):
no accepted spec may fail only when the operator acts on it.
"""

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

from modelpipe.api.v1alpha1 import GROUP, PLURAL, VERSION, Metadata, ModelPipelineSpec
from modelpipe.inputs import Resolved, resolve
from modelpipe.manifests import serving_deployment, serving_service, training_job
from modelpipe.manifests.autoscaling import serving_autoscaler

pytestmark = pytest.mark.cluster
kubernetes = pytest.importorskip("kubernetes")
ApiException = kubernetes.client.exceptions.ApiException

BASE = example_documents(data_url="http://127.0.0.1:9")[1]
# Each example is one dry-run create (and up to three for its children): ~200 take seconds.
EXAMPLES = 200

names = st.one_of(
    st.sampled_from(["iris", "a", "model-1", "x" * 54]),
    st.from_regex(r"[a-z0-9][-a-z0-9.]{0,20}", fullmatch=True),
)
quantities = st.one_of(
    st.sampled_from(["500m", "1", "2Gi", "512Mi", "-1", "lots", "0", "1e3", "0.5", "1.5Gi"]),
    st.sampled_from(["", " 1", "1 Gi", "+1", "100n", "1Ki", "0.0001", "1e-3", "9999999999999"]),
    st.integers(-3, 10**6),
    st.from_regex(r"[+-]?[0-9]{1,4}(\.[0-9]{1,3})?(m|k|M|G|Ki|Mi|Gi|e3)?", fullmatch=True),
)
resource_names = st.sampled_from(
    ["cpu", "memory", "ephemeral-storage", "nvidia.com/gpu", "foo", "hugepages-2Mi"]
)
resource_maps = st.dictionaries(resource_names, quantities, max_size=3)
resources = st.fixed_dictionaries({}, optional={"requests": resource_maps, "limits": resource_maps})
uris = st.one_of(
    st.sampled_from(["pvc://", "pvc://claim", "pvc://claim/", "pvc://claim/data.csv"]),
    st.sampled_from(["pvc://claim/../x", "pvc://Claim/x", "pvc:///x", "http://127.0.0.1:9/d.csv"]),
    st.from_regex(r"pvc://[a-z0-9.\-]{0,8}(/[a-z.]{0,6}){0,3}", fullmatch=True),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=20), st.floats(-1, 1)
)
params = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=12,
    ),
    max_size=5,
)
metrics = st.sampled_from(["accuracy", "f1_macro", "log_loss", "rmse", "r2", "mae", "auc"])
thresholds = st.lists(
    st.fixed_dictionaries({"metric": metrics, "min": st.floats(0, 1)}),
    max_size=3,
    unique_by=lambda t: t["metric"],
)
significance = st.fixed_dictionaries(
    {},
    optional={
        "test": st.sampled_from(["pairedBootstrap", "mcNemar", "tTest", ""]),
        "alpha": st.one_of(st.floats(-0.1, 1.0), st.sampled_from([0.0, 0.05, 0.5])),
        "resamples": st.integers(-1, 20000),
    },
)
label_keys = st.one_of(
    st.sampled_from(
        ["kubernetes.io/arch", "disktype", "example.com/pool", "a..b/c", "-x", "Bad Key", ""]
    ),
    st.sampled_from(["x" * 64, "e.com/" + "y" * 63, "a/b/c", "topology.kubernetes.io/zone"]),
    st.from_regex(r"([a-z0-9.\-]{0,6}/)?[A-Za-z0-9_.\-]{0,8}", fullmatch=True),
)
label_values = st.one_of(
    st.sampled_from(["amd64", "", "true", "x" * 64, "a b", "-a", "a_b.c"]),
    st.from_regex(r"[A-Za-z0-9_.\-]{0,8}", fullmatch=True),
)
tolerations = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "key": label_keys,
            "operator": st.sampled_from(["Exists", "Equal", "In"]),
            "value": label_values,
            "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute", "Never"]),
            "tolerationSeconds": st.integers(-5, 10**8),
        },
    ),
    max_size=3,
)
spreads = st.lists(
    st.fixed_dictionaries(
        {"topologyKey": label_keys},
        optional={
            "maxSkew": st.integers(-1, 1001),
            "whenUnsatisfiable": st.sampled_from(["DoNotSchedule", "ScheduleAnyway", "Maybe"]),
            "matchLabels": st.dictionaries(label_keys, label_values, max_size=2),
        },
    ),
    max_size=3,
)
# Valid node affinity of every kind: random rules are rarely all valid.
PLACED = {
    "nodeAffinity": [
        {"key": "kubernetes.io/arch", "values": ["amd64", "arm64"]},
        {"key": "example.com/quarantined", "operator": "DoesNotExist"},
        {"key": "example.com/spot", "operator": "NotIn", "values": ["true"], "weight": 30},
    ]
}
affinity_rules = st.lists(
    st.fixed_dictionaries(
        {"key": label_keys},
        optional={
            "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt"]),
            "values": st.lists(label_values, max_size=5),
            "weight": st.integers(-1, 101),
        },
    ),
    max_size=4,
)
placements = st.fixed_dictionaries(
    {},
    optional={
        "nodeSelector": st.dictionaries(label_keys, label_values, max_size=3),
        "nodeAffinity": affinity_rules,
        "tolerations": tolerations,
        "topologySpreadConstraints": spreads,
        "priorityClassName": st.sampled_from(["high", "system-cluster-critical"]),
    },
)
# An autoscaler is made only for the few specs valid on every count: always try one.
SCALED = {"minReplicas": 2, "maxReplicas": 4, "targetMemoryUtilizationPercentage": 80}
percentages = st.one_of(st.integers(-1, 1001), st.sampled_from([60, 80]))
replica_counts = st.one_of(st.integers(1, 6), st.integers(-1, 101))
autoscalings = st.fixed_dictionaries(
    {},
    optional={
        "minReplicas": replica_counts,
        "maxReplicas": replica_counts,
        "targetCPUUtilizationPercentage": percentages,
        "targetMemoryUtilizationPercentage": percentages,
    },
)
NOTIFYING = {"name": "team", "urlSecretRef": {"name": "hooks", "key": "url"}}
# Requests for the autoscaler to measure against, or not (then refused if it targets them).
scaled_requests = st.sampled_from([{}, {"cpu": "100m"}, {"memory": "64Mi"}])
scaled_requests |= st.just({"cpu": "100m", "memory": "64Mi"})
# spec.notify: webhook names, Secret references, formats and events, valid and not; a
# url in the spec, which both the CEL rule and the model refuse; repeated names.
secret_keys = st.one_of(
    st.just("url"),
    st.sampled_from(["a/b", "", ".x", "x" * 254]),
    st.from_regex(r"[-._a-zA-Z0-9/ ]{0,6}", fullmatch=True),
)
notify_events = st.sampled_from(
    ["Promoted", "GateFailed", "ValidationFailed", "RolledBack", "SourceFailed", "Deployed"]
)
webhooks = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.one_of(
                st.sampled_from(["team", "alerts"]),
                st.sampled_from(["Team", "", "a" * 64, "-a"]),
                st.from_regex(r"[a-z0-9\-]{0,8}", fullmatch=True),
            ),
            "urlSecretRef": st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["hooks", "hooks", "Hooks", "", "a.b"]),
                    "key": secret_keys,
                }
            ),
        },
        optional={
            "format": st.sampled_from(["JSON", "Slack", "slack"]),
            "events": st.lists(notify_events, max_size=6),
            "url": st.sampled_from(["", "https://hooks.example.com/T0/B0/x"]),
        },
    ),
    max_size=3,
)
changes = st.fixed_dictionaries(
    {},
    optional={
        "task": st.sampled_from(["classification", "regression"]),
        "thresholds": thresholds,
        "champion": metrics,
        "significance": significance,
        "training_resources": resources,
        "serving_resources": resources,
        "uri": uris,
        "params": params,
        "replicas": st.integers(-1, 101),
        "port": st.integers(0, 70000),
        "model_name": st.from_regex(r"[a-zA-Z0-9.\-]{0,12}", fullmatch=True),
        "training_placement": placements,
        "serving_placement": placements,
        "autoscaling": st.tuples(autoscalings, scaled_requests),
        "webhooks": webhooks,
    },
)


def document(name: str, change: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["metadata"] = {"name": name}
    spec = doc["spec"]
    training, serving = spec["training"], spec["serving"]
    if "task" in change:
        training["task"] = change["task"]
    if "thresholds" in change:
        spec["evaluation"] = {"thresholds": change["thresholds"]}
    if "champion" in change:
        spec.setdefault("evaluation", {})["champion"] = {"metric": change["champion"]}
        if "significance" in change:
            spec["evaluation"]["champion"]["significance"] = change["significance"]
    if "training_resources" in change:
        training["resources"] = change["training_resources"]
    if "serving_resources" in change:
        serving["template"] = {"resources": change["serving_resources"]}
    if "uri" in change:
        spec["dataset"]["uri"] = change["uri"]
    if "params" in change:
        training["estimator"]["params"] = change["params"]
    for key, field in (("replicas", "replicas"), ("model_name", "modelName")):
        if key in change:
            serving[field] = change[key]
    if "port" in change:
        serving.setdefault("template", {})["port"] = change["port"]
    if "autoscaling" in change:
        serving["autoscaling"], requests = change["autoscaling"]
        template = serving.setdefault("template", {})
        template["resources"] = {**template.get("resources", {}), "requests": requests}
    if "webhooks" in change:
        spec["notify"] = {"webhooks": change["webhooks"]}
    training.update(change.get("training_placement", {}))
    if "serving_placement" in change:
        serving.setdefault("template", {}).update(change["serving_placement"])
    return doc


def children(doc: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """What the operator would create for this pipeline, built by its own functions."""
    spec = ModelPipelineSpec.model_validate(doc["spec"])  # must not raise: it was admitted
    meta = Metadata(name=doc["metadata"]["name"], namespace=namespace, uid="0000-fuzz")
    resolved = Resolved(code_revision="0" * 40, dataset_version="etag:1")
    inputs = resolve(spec=spec, resolved=resolved, retrain_token=None, previous=None, now="now")
    # With a champion directory, so the significance test is rendered into the run config too.
    made = [training_job(meta=meta, spec=spec, inputs=inputs, champion_dir="/artifacts/x/1")]
    if spec.serving.template is not None:
        model_dir = f"/models/{meta.name}/{inputs.model_version}"
        made.append(
            serving_deployment(
                meta=meta, spec=spec, version=inputs.model_version, model_dir=model_dir
            )
        )
        made.append(serving_service(meta=meta, spec=spec))
    autoscaler = serving_autoscaler(meta=meta, spec=spec)
    if autoscaler is not None:
        made.append(autoscaler)
    return made


def admission_refusal(custom: Any, namespace: str, doc: dict[str, Any]) -> str | None:
    """The apiserver's message if it refuses to create ``doc`` (server-side dry run)."""
    try:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, doc, dry_run="All"
        )
    except ApiException as refused:
        body = json.loads(refused.body)
        # Refused by the schema, its CEL (422) or the admission policy (403), saying why.
        assert refused.status in (403, 422), (refused.status, body)
        assert body.get("message"), body
        # The CRD stores no defaults: a rule reading an absent field is a bug in the rule.
        assert "no such key" not in body["message"], body["message"]
        return str(body["message"])
    return None


def test_every_admitted_spec_yields_children_the_apiserver_accepts(
    crd: Path, kube_client: Any, namespace: str
) -> None:
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    dynamic = kubernetes.dynamic.DynamicClient(kube_client)
    seen = {"refused": 0, "accepted": 0, "autoscaled": 0, "notifying": 0, "affinity": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(name=names, change=changes)
    @example(name="iris", change={"autoscaling": (SCALED, {"cpu": "100m", "memory": "64Mi"})})
    @example(name="iris", change={"webhooks": [NOTIFYING, NOTIFYING]})  # a name twice
    @example(name="iris", change={"webhooks": [NOTIFYING]})
    @example(name="iris", change={"training_placement": PLACED, "serving_placement": PLACED})
    def check(name: str, change: dict[str, Any]) -> None:
        doc = document(name, change)
        if admission_refusal(custom, namespace, doc) is not None:
            seen["refused"] += 1
            return
        seen["accepted"] += 1
        seen["autoscaled"] += "autoscaling" in doc["spec"]["serving"]
        seen["notifying"] += "notify" in doc["spec"]
        seen["affinity"] += "nodeAffinity" in doc["spec"]["training"]
        try:
            made = children(doc, namespace)
        except ValidationError as error:
            raise AssertionError(f"admitted but the operator cannot parse it: {error}") from error
        for child in made:
            api = dynamic.resources.get(api_version=child["apiVersion"], kind=child["kind"])
            try:
                api.create(body=child, namespace=namespace, query_params=[("dryRun", "All")])
            except ApiException as error:
                raise AssertionError(
                    f"admitted {json.dumps(doc['spec'])[:2000]} but its {child['kind']} is "
                    f"refused: {error.status} {error.body[:1000]}"
                ) from error

    check()
    # Both sides were exercised: the generator reaches valid and invalid specs.
    print(seen)
    assert seen["refused"] > 10 and seen["accepted"] > 10 and seen["autoscaled"], seen
    assert seen["notifying"] and seen["affinity"], seen
