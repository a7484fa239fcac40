"""Pod placement of training and serving pods: passed through (node affinity in a small
form), priority classes allow-listed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from tests.operator.builders import meta, spec, spec_dict

from modelpipe.api import crdgen
from modelpipe.api.config import OperatorConfig
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.inputs import resolve
from modelpipe.layout import MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL
from modelpipe.manifests import serving_deployment, template_patch, training_job

PLACEMENT: dict[str, Any] = {
    "nodeSelector": {"kubernetes.io/arch": "amd64", "example.com/pool": "gpu"},
    "tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60},
    ],
    "topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone"}],
}
GPU = {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}}


def _training_pod(**training: Any) -> dict[str, Any]:
    the_spec = spec(training=training)
    inputs = resolve(spec=the_spec, resolved=None, retrain_token=None, previous=None, now="now")
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None)
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def _serving_pod(**template: Any) -> dict[str, Any]:
    deployment = serving_deployment(
        meta=meta(), spec=spec(serving={"template": template}), version="v1", model_dir="/m"
    )
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_training_pods_get_placement_and_gpus() -> None:
    pod = _training_pod(resources=GPU, **PLACEMENT)
    assert pod["nodeSelector"] == PLACEMENT["nodeSelector"]
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {
            "key": "spot",
            "operator": "Equal",
            "value": "true",
            "effect": "NoExecute",
            "tolerationSeconds": 60,
        },
    ]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread == {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {PIPELINE_LABEL: "iris", MANAGED_BY_LABEL: MANAGED_BY}},
    }
    (train,) = pod["containers"]
    assert train["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_serving_pods_get_placement_counting_their_own_replicas() -> None:
    pod = _serving_pod(**PLACEMENT)
    assert pod["nodeSelector"] == PLACEMENT["nodeSelector"]
    assert len(pod["tolerations"]) == 2
    (spread,) = pod["topologySpreadConstraints"]
    deployment = serving_deployment(meta=meta(), spec=spec(), version="v1", model_dir="/m")
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


AFFINITY = [
    {"key": "nvidia.com/gpu.product", "values": ["NVIDIA-A100", "NVIDIA-H100"]},
    {"key": "example.com/quarantined", "operator": "DoesNotExist"},
    {"key": "example.com/spot", "operator": "In", "values": ["true"], "weight": 40},
]
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def test_node_affinity_requires_all_unweighted_rules_and_prefers_weighted_ones() -> None:
    for pod in (_training_pod(nodeAffinity=AFFINITY), _serving_pod(nodeAffinity=AFFINITY)):
        assert pod["affinity"] == {
            "nodeAffinity": {
                REQUIRED: {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "nvidia.com/gpu.product",
                                    "operator": "In",
                                    "values": ["NVIDIA-A100", "NVIDIA-H100"],
                                },
                                {"key": "example.com/quarantined", "operator": "DoesNotExist"},
                            ]
                        }
                    ]
                },
                PREFERRED: [
                    {
                        "weight": 40,
                        "preference": {
                            "matchExpressions": [
                                {"key": "example.com/spot", "operator": "In", "values": ["true"]}
                            ]
                        },
                    }
                ],
            }
        }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"key": "disktype"}], "In and NotIn take values"),
        ([{"key": "disktype", "operator": "Exists", "values": ["ssd"]}], "Exists and"),
        ([{"key": "disktype", "values": []}], "at least 1 item"),
        ([{"key": "disktype", "values": ["ssd"], "weight": 0}], "greater than or equal to 1"),
        ([{"key": "Bad Key", "operator": "Exists"}], "String should match pattern"),
        ([{"key": "d", "values": ["a", "b", "c", "d", "e"]}], "at most 4 items"),
        ([{"key": f"k{i}", "operator": "Exists"} for i in range(4)], "at most 3 items"),
        ([{"key": "d", "operator": "Gt", "values": ["1"]}], "'In', 'NotIn', 'Exists'"),
    ],
)
def test_invalid_node_affinity_is_refused(rules: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(training={"nodeAffinity": rules})


def test_serving_patch_drops_an_affinity_half_the_spec_no_longer_has() -> None:
    """A merge patch keeps map keys it does not name: the dropped half is nulled."""
    preferred_only = {"nodeAffinity": [AFFINITY[2]]}
    patch = template_patch(
        meta=meta(),
        spec=spec(serving={"template": preferred_only}),
        version="v1",
        model_dir="/m",
    )
    node_affinity = patch["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert node_affinity[REQUIRED] is None and len(node_affinity[PREFERRED]) == 1
    bare = template_patch(meta=meta(), spec=spec(), version="v1", model_dir="/m")
    assert bare["spec"]["template"]["spec"]["affinity"] is None


def test_without_placement_pods_say_nothing_of_it() -> None:
    for pod in (_training_pod(), _serving_pod()):
        assert not {"nodeSelector", "affinity", "tolerations", "topologySpreadConstraints"} & set(
            pod
        )
        assert "priorityClassName" not in pod


def test_placement_is_not_a_model_input() -> None:
    """Where a run trains does not change the model: no new version, no retrain."""
    plain, placed = spec(), spec(training=PLACEMENT)
    hashes = [
        resolve(spec=s, resolved=None, retrain_token=None, previous=None, now="now").hash
        for s in (plain, placed)
    ]
    assert hashes[0] == hashes[1]


def test_priority_class_only_when_the_platform_allows_it() -> None:
    with pytest.raises(ValidationError, match=r"pods\.priorityClassNames"):
        spec(training={"priorityClassName": "high"})
    allowed = OperatorConfig(priority_classes=frozenset({"batch-low", "high"}))
    placed = ModelPipelineSpec.model_validate(
        spec_dict(
            training={"priorityClassName": "high"},
            serving={"template": {"priorityClassName": "batch-low"}},
        ),
        context=allowed,
    )
    inputs = resolve(spec=placed, resolved=None, retrain_token=None, previous=None, now="now")
    job = training_job(meta=meta(), spec=placed, inputs=inputs, champion_dir=None)
    assert job["spec"]["template"]["spec"]["priorityClassName"] == "high"
    deployment = serving_deployment(meta=meta(), spec=placed, version="v1", model_dir="/m")
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == "batch-low"
    with pytest.raises(ValidationError, match="allowed: batch-low, high"):
        ModelPipelineSpec.model_validate(
            spec_dict(serving={"template": {"priorityClassName": "system-cluster-critical"}}),
            context=allowed,
        )


def test_serving_patch_drops_what_the_spec_no_longer_says() -> None:
    """A merge patch merges maps and keeps absent keys: dropped fields and keys are nulled."""
    patch = template_patch(
        meta=meta(),
        spec=spec(serving={"template": {"nodeSelector": {"example.com/pool": "cpu"}}}),
        version="v1",
        model_dir="/m",
        node_selector_keys=("kubernetes.io/arch", "example.com/pool"),
    )
    pod = patch["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": None, "example.com/pool": "cpu"}
    assert pod["tolerations"] is None and pod["topologySpreadConstraints"] is None
    assert pod["priorityClassName"] is None
    bare = template_patch(meta=meta(), spec=spec(), version="v1", model_dir="/m")
    assert bare["spec"]["template"]["spec"]["nodeSelector"] is None


def _priority_rules(text: str) -> list[str]:
    (policy, _) = yaml.safe_load_all(text)
    rules = [v["expression"] for v in policy["spec"]["validations"]]
    # The pods' PriorityClasses, not Kueue's WorkloadPriorityClass (test_chart_conventions).
    return [r for r in rules if "priorityClassName" in r and "workloadPriority" not in r]


def test_admission_policy_allows_only_the_charts_priority_classes() -> None:
    plain = _priority_rules(crdgen.render_policy())
    chart = _priority_rules(crdgen.render_policy(name=crdgen.CHART_POLICY_NAME))
    assert len(plain) == 2 and all(r.endswith("priorityClassName in []") for r in plain)
    listed = "priorityClassName in {{ .Values.pods.priorityClassNames | toJson }}"
    assert len(chart) == 2 and all(r.endswith(listed) for r in chart)
