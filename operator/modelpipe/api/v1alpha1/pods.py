"""Where a pipeline's pods run: node selection and affinity, tolerations, spread and priority.

``spec.training`` and ``spec.serving.template`` both take these fields, passed through
to the training Job's and the serving Deployment's pods. They only narrow or widen
where the scheduler may place a pod in the pipeline's own namespace (node affinity only
narrows: it is ANDed with the nodeSelector a PodNodeSelector namespace imposes; pod
affinity, which could look into other namespaces' pods, is not offered), and the apiserver
applies the namespace's own admission (PodNodeSelector, PodTolerationRestriction,
quotas) to those pods as to any other, so a pipeline author gains nothing a pod author
in that namespace would not have. The exception is ``priorityClassName``: a high
priority preempts other teams' pods, so only the classes the platform lists (Helm value
``pods.priorityClassNames``, passed to the operator as MODELPIPE_PRIORITY_CLASSES, read into
``api.config.OperatorConfig``, and checked by the chart's admission policy) are accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelpipe.api.config import config_in
from modelpipe.api.v1alpha1._base import OBJECT_NAME_PATTERN, SpecModel, cel, validations

MAX_ENTRIES = 16
# Every field here counts twice (training, serving) against MAX_SPEC_BYTES: nodeSelector
# was cut from 16 keys to 8 to make room for nodeAffinity, which selects nodes too.
MAX_NODE_LABELS = 8
MAX_AFFINITY_RULES = 3
MAX_RULE_VALUES = 4
_VALUES_BY_OPERATOR = (
    "nodeAffinity: operators In and NotIn take values, Exists and DoesNotExist none"
)
# A label key: an optional DNS-subdomain prefix and a name of at most 63 characters
# (Kubernetes' qualified name); with at most 317 characters the prefix has at most 253.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=LABEL_VALUE)]


def _labels_schema(what: str, most: int) -> dict[str, Any]:
    return {
        "maxProperties": most,
        **validations(
            cel(
                f"self.all(k, k.size() <= 317 && k.matches('{LABEL_KEY}'))",
                f"{what}: keys must be label keys such as kubernetes.io/arch or example.com/pool",
            )
        ),
    }


def _when(c: str) -> str:
    return f"(has({c}.whenUnsatisfiable) ? {c}.whenUnsatisfiable : 'DoNotSchedule')"


class Toleration(SpecModel):
    """A toleration of the pod, as in a Pod's spec.tolerations."""

    key: str | None = Field(
        default=None,
        max_length=317,
        pattern=LABEL_KEY,
        description="Taint key; omitted with operator Exists, it tolerates every taint.",
    )
    operator: Literal["Exists", "Equal"] = Field(
        default="Equal", description="Equal (key and value match) or Exists (key matches)."
    )
    value: LabelValue | None = Field(default=None, description="Taint value, with Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to tolerate; omitted, every effect."
    )
    toleration_seconds: int | None = Field(
        default=None,
        ge=0,
        le=31_536_000,
        description="With effect NoExecute: how long the pod stays bound after the taint.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.value) || !has(self.operator) || self.operator != 'Exists'",
                "toleration: operator Exists takes no value",
            ),
            cel(
                "has(self.key) || (has(self.operator) && self.operator == 'Exists')",
                "toleration: without a key the operator must be Exists",
            ),
            cel(
                "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
                "toleration: tolerationSeconds only applies with effect NoExecute",
            ),
        )
    )


class TopologySpreadConstraint(SpecModel):
    """How to spread the pods over a topology (zones, nodes), as in a Pod's spec."""

    max_skew: int = Field(default=1, ge=1, le=1000, description="Largest allowed imbalance.")
    topology_key: str = Field(
        max_length=317,
        pattern=LABEL_KEY,
        description="Node label that names a domain, e.g. topology.kubernetes.io/zone.",
    )
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(
        default="DoNotSchedule", description="DoNotSchedule or ScheduleAnyway."
    )
    match_labels: dict[str, LabelValue] | None = Field(
        default=None,
        description="Pods counted in each domain; defaults to this pipeline's pods of the "
        "same kind (training or serving).",
        json_schema_extra=_labels_schema("topologySpreadConstraints.matchLabels", 8),
    )


class NodeAffinityRule(SpecModel):
    """A rule on node labels: required of the pod's node, or with a weight preferred."""

    key: str = Field(
        max_length=317,
        pattern=LABEL_KEY,
        description="Node label key, e.g. nvidia.com/gpu.product or topology.kubernetes.io/zone.",
    )
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        default="In",
        description="In or NotIn (the label's value among values), Exists or DoesNotExist.",
    )
    values: list[LabelValue] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_RULE_VALUES,
        description="Label values, with In and NotIn.",
    )
    weight: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Makes the rule a preference of this weight (1-100) for the scheduler; "
        "without it, the pod only runs on nodes that satisfy it.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(!has(self.operator) || self.operator == 'In' || self.operator == 'NotIn') "
                "== has(self.values)",
                _VALUES_BY_OPERATOR,
            ),
        )
    )

    @model_validator(mode="after")
    def _values_match_operator(self) -> Self:
        if (self.operator in ("In", "NotIn")) != (self.values is not None):
            raise ValueError(_VALUES_BY_OPERATOR)
        return self


class PodPlacement(SpecModel):
    """Scheduling fields shared by the training and the serving pods."""

    node_selector: dict[str, LabelValue] | None = Field(
        default=None,
        description="Node labels the pod's node must carry, e.g. {nvidia.com/gpu.present: "
        '"true"}.',
        json_schema_extra=_labels_schema("nodeSelector", MAX_NODE_LABELS),
    )
    tolerations: list[Toleration] | None = Field(
        default=None, max_length=MAX_ENTRIES, description="Taints the pod tolerates."
    )
    topology_spread_constraints: list[TopologySpreadConstraint] | None = Field(
        default=None,
        max_length=8,
        description="How the pods spread over zones or nodes; at most one per topologyKey "
        "and whenUnsatisfiable.",
        json_schema_extra=validations(
            cel(
                "self.all(a, self.filter(b, b.topologyKey == a.topologyKey && "
                f"{_when('b')} == {_when('a')}).size() == 1)",
                "topologySpreadConstraints: each topologyKey and whenUnsatisfiable pair at most "
                "once, as Kubernetes requires",
            )
        ),
    )
    node_affinity: list[NodeAffinityRule] | None = Field(
        default=None,
        max_length=MAX_AFFINITY_RULES,
        description="Node affinity: rules on node labels, all required ones must hold (In, "
        "NotIn, Exists, DoesNotExist: more than nodeSelector's equality) and weighted ones "
        "are preferences. Only narrows where the pod may run.",
    )
    priority_class_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="PriorityClass of the pod; only one the platform allows (Helm value "
        "pods.priorityClassNames), since a higher priority preempts other workloads.",
    )

    @field_validator("priority_class_name")
    @classmethod
    def _allowed(cls, name: str | None, info: ValidationInfo) -> str | None:
        """Only the classes the operator's configuration lists (none unless configured)."""
        allowed = config_in(info.context).priority_classes
        return listed_only(
            name, allowed, field="priorityClassName", value="pods.priorityClassNames"
        )


def listed_only(name: str | None, allowed: frozenset[str], *, field: str, value: str) -> str | None:
    """``name`` if the platform lists it (Helm ``value``); else a message naming the list."""
    if name is not None and name not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        raise ValueError(
            f"{field} {name} is not allowed by the operator (allowed: {listed}); the platform "
            f"admin lists the allowed ones in the Helm value {value}"
        )
    return name
