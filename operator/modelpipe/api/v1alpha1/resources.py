"""Compute resources of a container (training or serving).

The apiserver checks them at admission (CEL ``isQuantity``) the way it would check the
Job or Deployment the operator creates from them, so ``memory: lots`` or ``cpu: "-1"``
is refused when applied, not when the child is created (which left a pipeline retrying
with no status). Extended resources (``nvidia.com/gpu``) follow Kubernetes' rules: whole
numbers, a limit always, and a request equal to it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from modelpipe.api.v1alpha1._base import SpecModel, cel, validations

Quantity = int | Annotated[str, StringConstraints(max_length=64)]
MAX_RESOURCES = 16
# cpu, memory, ephemeral-storage, or an extended resource: a domain-prefixed name.
RESOURCE_NAME = (
    r"^(cpu|memory|ephemeral-storage"
    r"|[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$"
)


def _q(v: str) -> str:
    return f"quantity(string({v}))"


def _valid(v: str) -> str:
    return f"(isQuantity(string({v})) && !{_q(v)}.isLessThan(quantity('0')))"


def _quantities(which: str) -> dict[str, Any]:
    """Schema extras of a requests or limits map: bounded, named and valued as Kubernetes wants."""
    return {
        "maxProperties": MAX_RESOURCES,
        **validations(
            cel(
                f"self.all(k, {_valid('self[k]')})",
                f"resources.{which}: every value must be a non-negative Kubernetes quantity, "
                "e.g. 500m or 2 (cpu), 512Mi or 2Gi (memory)",
            ),
            cel(
                f"self.all(k, k.size() <= 253 && k.matches('{RESOURCE_NAME}') "
                "&& !k.contains('kubernetes.io/'))",
                f"resources.{which}: names are cpu, memory, ephemeral-storage or an extended "
                "resource such as nvidia.com/gpu",
            ),
            cel(
                f"self.all(k, !k.contains('/') || !{_valid('self[k]')} "
                f"|| {_q('self[k]')}.isInteger())",
                f"resources.{which}: extended resources (nvidia.com/gpu) take whole numbers",
            ),
        ),
    }


_BOTH_VALID = f"{_valid('self.requests[k]')} && {_valid('self.limits[k]')}"


class Resources(SpecModel):
    """Compute resources of a container: requests and limits by resource name."""

    requests: dict[str, Quantity] | None = Field(
        default=None,
        description="Guaranteed amounts, e.g. {cpu: 500m, memory: 1Gi}.",
        json_schema_extra=_quantities("requests"),
    )
    limits: dict[str, Quantity] | None = Field(
        default=None,
        description="Upper bounds, e.g. {memory: 2Gi}; each at least its request. Extended "
        "resources (nvidia.com/gpu) need a limit; a request must equal it.",
        json_schema_extra=_quantities("limits"),
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.requests) || !has(self.limits) || self.limits.all(k, "
                f"!(k in self.requests) || !({_BOTH_VALID}) "
                f"|| {_q('self.requests[k]')}.compareTo({_q('self.limits[k]')}) <= 0)",
                "resources: each request must be less than or equal to its limit",
            ),
            cel(
                "!has(self.requests) || self.requests.all(k, !k.contains('/') "
                "|| (has(self.limits) && k in self.limits && (!("
                + _BOTH_VALID
                + f") || {_q('self.requests[k]')}.compareTo({_q('self.limits[k]')}) == 0)))",
                "resources: an extended resource (such as nvidia.com/gpu) needs a limit, and "
                "its request must equal that limit",
            ),
        )
    )
