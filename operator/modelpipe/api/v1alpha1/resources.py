"""Compute resources of a container (training or serving)."""

from __future__ import annotations

from pydantic import Field

from modelpipe.api.v1alpha1._base import SpecModel

Quantity = int | str


class Resources(SpecModel):
    """Compute resources of the training container."""

    requests: dict[str, Quantity] | None = Field(
        default=None, description="e.g. {cpu: 500m, memory: 1Gi}"
    )
    limits: dict[str, Quantity] | None = Field(default=None, description="e.g. {memory: 2Gi}")
