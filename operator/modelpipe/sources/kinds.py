"""Which module checks which kind of source: the one registration of a source type.

Adding a source type is a :class:`~modelpipe.api.sources.SourceKind` member, a
module with ``async def check(c: Check) -> Observation`` and one line in
:data:`CHECKERS`; a dataset kind also gets one :class:`DatasetKind` row in
:data:`DATASET_KINDS`, which says which URIs it reads, when a URI pins one version, and
whether the spec's ``credentialsSecret`` is lent to its checks (``follows`` reads only
this table). The spec's URI rule and the trainer's fetch, in their own layers, must
accept the new scheme too. A kind without a checker fails at import (and in
``tests/sources/test_kinds.py``), never at the first poll: nothing falls back to
another kind's checker, and a URI no row claims is followed by none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from modelpipe.api.pvcdata import parse_uri as parse_pvc_uri
from modelpipe.api.s3data import parse_s3_uri
from modelpipe.api.sources import SourceKind
from modelpipe.sources import gitref, httpdata, manifest, s3data
from modelpipe.sources.check import Checker

CHECKERS: Mapping[SourceKind, Checker] = MappingProxyType(
    {
        SourceKind.GIT: gitref.check,
        SourceKind.HTTP: httpdata.check,
        SourceKind.MANIFEST: manifest.check,
        SourceKind.S3: s3data.check,
    }
)
# Checked by a Job the plan starts (modelpipe.planning.pvcdata), never polled here.
JOB_CHECKED = frozenset({SourceKind.PVC})


def _never(uri: str) -> bool:
    return False


def _s3_version_in_uri(uri: str) -> bool:
    location = parse_s3_uri(uri)
    return location is not None and bool(location.version_id)


@dataclass(frozen=True)
class DatasetKind:
    """How a dataset URI of one kind is followed."""

    kind: SourceKind
    claims: Callable[[str], bool]  # this kind reads the URI
    pinned: Callable[[str], bool] = _never  # the URI itself names one version: nothing to follow
    lends_secret: bool = False  # the spec's credentialsSecret is lent to this kind's checks


# In order: the first row that claims a URI is its kind.
DATASET_KINDS: tuple[DatasetKind, ...] = (
    DatasetKind(SourceKind.PVC, claims=lambda uri: parse_pvc_uri(uri) is not None),
    DatasetKind(
        SourceKind.S3,
        claims=lambda uri: parse_s3_uri(uri) is not None,
        pinned=_s3_version_in_uri,
        lends_secret=True,
    ),
    DatasetKind(SourceKind.HTTP, claims=lambda uri: uri.startswith(("http://", "https://"))),
)


def dataset_kind(uri: str) -> DatasetKind | None:
    """The row that reads ``uri``, or None when no registered kind does."""
    return next((row for row in DATASET_KINDS if row.claims(uri)), None)


def unregistered(kinds: Iterable[str] = SourceKind) -> frozenset[str]:
    """Kinds that neither a poller nor a Job checks."""
    return frozenset(kinds) - CHECKERS.keys() - JOB_CHECKED


if unregistered():
    raise ImportError(f"source kinds without a checker: {sorted(unregistered())}")
