"""Shared base classes and the CEL helper for the v1alpha1 models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

# A DNS-1123 name as Kubernetes requires for the objects a spec field names.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# The largest spec the schema admits, in JSON bytes (every string, list and map is bounded;
# tests/operator/test_crd_drift.py computes the worst case). Specs of 0.6-1 MB broke the
# run config, kopf's diff base and status patches; this keeps every derived object small.
MAX_SPEC_BYTES = 512 * 1024
# One argument of a command: bounded, so the whole spec has a known worst-case size.
Arg = Annotated[str, StringConstraints(max_length=1024)]
# Followed sources (git ref, dataset) are polled this often unless the spec says otherwise.
DEFAULT_POLL = "1m"
MIN_POLL = "1s"


class SpecModel(BaseModel):
    """Spec types: camelCase on the wire, unknown fields rejected, immutable once parsed."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class StatusModel(BaseModel):
    """Status types: tolerant of fields written by others (kopf keeps ``status.kopf``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def cel(rule: str, message: str, *, field_path: str | None = None) -> dict[str, Any]:
    """One ``x-kubernetes-validations`` entry; the message must say what to fix."""
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: dict[str, Any]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules into the generated schema."""
    return {"x-kubernetes-validations": list(rules)}
