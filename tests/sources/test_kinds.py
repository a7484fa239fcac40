"""Every kind of source has exactly one checker: a new kind cannot fall back to another's."""

from __future__ import annotations

from enum import StrEnum

from modelpipe.api.sources import SourceKind
from modelpipe.sources import gitref, httpdata, manifest, s3data
from modelpipe.sources.kinds import CHECKERS, JOB_CHECKED, unregistered


def test_every_kind_is_checked_by_a_poller_or_a_job_not_both() -> None:
    assert unregistered() == frozenset()
    assert not CHECKERS.keys() & JOB_CHECKED
    assert CHECKERS[SourceKind.GIT] is gitref.check
    assert CHECKERS[SourceKind.HTTP] is httpdata.check
    assert CHECKERS[SourceKind.MANIFEST] is manifest.check
    assert CHECKERS[SourceKind.S3] is s3data.check


def test_a_kind_added_without_a_checker_is_named() -> None:
    members = {**{k.name: k.value for k in SourceKind}, "FTP": "ftp"}
    extended: type[StrEnum] = StrEnum("extended", members)  # type: ignore[misc]  # built at run time
    assert unregistered(extended) == {"ftp"}
