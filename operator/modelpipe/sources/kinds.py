"""Which module checks which kind of source: the one registration of a source type.

Adding a source type is a :class:`~modelpipe.api.sources.SourceKind` member, a
module with ``async def check(c: Check) -> Observation`` and one line in
:data:`CHECKERS`; a dataset kind also needs its URI told apart in
``sources.follower.follows`` (and the spec, the trainer's fetch, to accept it).
A kind without a checker fails at import (and in ``tests/sources/test_kinds.py``),
never at the first poll: nothing falls back to another kind's checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

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


def unregistered(kinds: Iterable[str] = SourceKind) -> frozenset[str]:
    """Kinds that neither a poller nor a Job checks."""
    return frozenset(kinds) - CHECKERS.keys() - JOB_CHECKED


if unregistered():
    raise ImportError(f"source kinds without a checker: {sorted(unregistered())}")
