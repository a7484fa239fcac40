"""The ValidatingAdmissionPolicy that checks what the CRD's own CEL cannot see.

A CRD's validation rules cannot read inside ``x-kubernetes-preserve-unknown-fields``
(``spec.training.estimator.params`` is free-form JSON); an admission policy can, as
dynamic values. It is generated with the CRD (``make crds``), installed with it
(``crds/``, and the chart's templates under the release's name, so a policy applied
from ``crds/`` and the chart's never clash) and bound to every namespace.
"""

from __future__ import annotations

from typing import Any

from modelpipe.api import v1alpha1
from modelpipe.api.v1alpha1.params import params_policy_validations

POLICY_NAME = f"{v1alpha1.PLURAL}.{v1alpha1.GROUP}"
# The PriorityClasses pipelines may use, as a CEL list: none without the chart, whose
# copy lists the Helm value pods.priorityClassNames (modelpipe.api.v1alpha1.pods).
NO_PRIORITY_CLASSES = "[]"
CHART_PRIORITY_CLASSES = "{{ .Values.pods.priorityClassNames | toJson }}"
# Likewise the Kueue WorkloadPriorityClasses (Helm value kueue.priorityClassNames).
CHART_WORKLOAD_PRIORITY_CLASSES = "{{ .Values.kueue.priorityClassNames | toJson }}"
_PRIORITY_FIELDS = {
    "spec.training": "has(object.spec.training.priorityClassName)",
    "spec.serving.template": "has(object.spec.serving.template) && "
    "has(object.spec.serving.template.priorityClassName)",
}


def priority_class_validations(allowed: str) -> list[dict[str, str]]:
    """A pipeline's pods may only use the PriorityClasses the platform allows."""
    return [
        {
            "expression": f"!({present}) || object.{field}.priorityClassName in {allowed}",
            "message": f"{field}.priorityClassName is not one the platform allows (Helm value "
            "pods.priorityClassNames): a higher priority would preempt other workloads",
        }
        for field, present in _PRIORITY_FIELDS.items()
    ]


def workload_priority_class_validation(allowed: str) -> dict[str, str]:
    """A pipeline's Kueue Job may only name a WorkloadPriorityClass the platform allows."""
    field = "object.spec.training.workloadPriorityClassName"
    return {
        "expression": f"!has({field}) || {field} in {allowed}",
        "message": "spec.training.workloadPriorityClassName is not one the platform allows "
        "(Helm value kueue.priorityClassNames): a higher priority would preempt other workloads",
    }


def admission_policy(
    name: str = POLICY_NAME,
    *,
    priority_classes: str = NO_PRIORITY_CLASSES,
    workload_priority_classes: str = NO_PRIORITY_CLASSES,
) -> list[dict[str, Any]]:
    """The policy and its binding (Deny in every namespace)."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            # Without the policy the operator still refuses such params (InvalidSpec).
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [v1alpha1.GROUP],
                        "apiVersions": [v1alpha1.VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [v1alpha1.PLURAL],
                    }
                ]
            },
            "validations": [
                *params_policy_validations("object.spec.training.estimator.params"),
                *priority_class_validations(priority_classes),
                workload_priority_class_validation(workload_priority_classes),
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]
