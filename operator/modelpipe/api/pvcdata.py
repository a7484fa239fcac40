"""``pvc://<claim>/<path>``: a dataset on a PersistentVolumeClaim, as the spec names it — pure.

The rest of the feature: :mod:`modelpipe.manifests.pvcdata` (the hash Job, the claim
mounted for training), :mod:`modelpipe.planning.pvcdata` (its ``status.sources`` row,
when to check) and :mod:`modelpipe.k8s.pvcdata` (reading the hash Jobs back).
"""

from __future__ import annotations

import re

SCHEME = "pvc"
_CLAIM_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def check_path(path: str) -> str | None:
    """A problem with a path inside a claim, or None."""
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts:
        return f"path {path!r} must be relative to the claim and must not contain '..'"
    return None


def parse_uri(uri: str) -> tuple[str, str] | None:
    """``pvc://<claim>/<path>`` as (claim, path); None for any other scheme."""
    prefix = f"{SCHEME}://"
    if not uri.startswith(prefix):
        return None
    claim, _, path = uri[len(prefix) :].partition("/")
    return claim, path


def uri_problem(uri: str) -> str | None:
    """What is wrong with a ``pvc://`` URI, for the user; None when usable."""
    parsed = parse_uri(uri)
    if parsed is None:
        return None
    claim, path = parsed
    if not _CLAIM_NAME.fullmatch(claim):
        return f"{uri!r}: {claim!r} is not a PersistentVolumeClaim name; use pvc://<claim>/<path>"
    return check_path(path)
