"""Every kind of source has exactly one checker: a new kind cannot fall back to another's."""

from __future__ import annotations

from enum import StrEnum

import pytest
from tests.sources.test_follower import make_spec

from modelpipe.api.sources import SecretRef, SourceKind
from modelpipe.sources import gitref, httpdata, manifest, s3data
from modelpipe.sources.follower import follows
from modelpipe.sources.kinds import CHECKERS, DATASET_KINDS, JOB_CHECKED, dataset_kind, unregistered


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


def test_every_dataset_row_names_a_registered_kind_once() -> None:
    kinds = [row.kind for row in DATASET_KINDS]
    assert len(kinds) == len(set(kinds))
    assert set(kinds) <= CHECKERS.keys() | JOB_CHECKED


@pytest.mark.parametrize(
    ("uri", "kind", "pinned"),
    [
        ("https://d/x.csv", SourceKind.HTTP, False),
        ("http://d/x.csv", SourceKind.HTTP, False),
        ("s3://b/k.csv", SourceKind.S3, False),
        ("s3://b/k.csv?versionId=3", SourceKind.S3, True),
        ("pvc://data/x.csv", SourceKind.PVC, False),
    ],
)
def test_a_dataset_uri_has_exactly_the_kind_of_its_scheme(
    uri: str, kind: SourceKind, pinned: bool
) -> None:
    row = dataset_kind(uri)
    assert row is not None and (row.kind, row.pinned(uri)) == (kind, pinned)
    assert [r.kind for r in DATASET_KINDS if r.claims(uri)] == [kind]


@pytest.mark.parametrize("uri", ["ftp://d/x.csv", "file:///x.csv", "x.csv", "gs://b/k"])
def test_a_uri_no_kind_reads_falls_to_none_not_to_http(uri: str) -> None:
    assert dataset_kind(uri) is None
    spec = make_spec({"revision": "abc"}, {"uri": uri})
    assert follows(spec, namespace="ml") == {}


def test_only_a_kind_registered_as_lending_gets_the_secret() -> None:
    lending = {row.kind for row in DATASET_KINDS if row.lends_secret}
    assert lending == {SourceKind.S3}
    s3 = make_spec({"revision": "abc"}, {"uri": "s3://bucket/k.csv", "credentialsSecret": "keys"})
    assert follows(s3, namespace="ml")["dataset"].key.secret == SecretRef("ml", "keys")
    # The CRD refuses this combination; the model alone does not, so the table must.
    http = make_spec({"revision": "abc"}, {"uri": "https://d/x.csv", "credentialsSecret": "keys"})
    assert follows(http, namespace="ml")["dataset"].key.secret is None
