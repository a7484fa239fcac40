"""Which store a model version is in, against the store spec.artifacts names now.

Every write that points serving pods at a model (the rollout, a canary step, a shadow)
takes its URI from here, never from a run record alone: after the spec moves to another
bucket, prefix or Secret, a model uploaded under the old one is not fetched with the new
Secret's keys (that Secret is opted in for the new place only).
"""

from __future__ import annotations

from modelpipe.manifests.s3model import own_run_uri
from modelpipe.planning.draft import Decided


def recorded_uri(d: Decided, version: str) -> str | None:
    """Where ``version`` was uploaded, as status says (None: it never was, a PVC's)."""
    record, production = d.find(version), d.status.production
    found = record.model_uri if record is not None else None
    if not found and production is not None and production.model_version == version:
        found = production.model_uri
    return found


def stored_here(d: Decided, version: str) -> bool:
    """Whether ``version``'s model is in the store spec.artifacts names now.

    After a switch between a PVC and S3 (or to a prefix the spec no longer covers),
    production's model stays where it was: it is neither compared as the champion nor
    rolled to, and its pods keep serving until a model in the new store is promoted."""
    if d.spec.artifacts.s3 is not None:
        return bool(stored_model_uri(d, version))
    return not recorded_uri(d, version)


def stored_model_uri(d: Decided, version: str) -> str | None:
    """With spec.artifacts.s3, where ``version`` was uploaded ("" if nowhere known); else None."""
    s3 = d.spec.artifacts.s3
    if s3 is None:
        return None
    found = recorded_uri(d, version)
    meta = d.obs.metadata
    return own_run_uri(found, s3, namespace=meta.namespace, pipeline=meta.name, version=version)
