"""Manifest sources: the version is a hash of the entries, not of the file's bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from tests.sources.servers import DataServer, Served

from modelpipe.api.sources import ErrorReason
from modelpipe.sources.httpdata import HttpCheck
from modelpipe.sources.manifest import (
    ManifestError,
    manifest_version,
    parse_manifest,
    resolve_manifest,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
GENERIC = {"files": [{"path": "b.csv", "sha256": "22"}, {"path": "a.csv", "sha256": "11"}]}
DVC = b"outs:\n- md5: 1a2b\n  size: 123\n  path: data.csv\n"


def test_reordering_and_reformatting_do_not_change_the_version() -> None:
    a = parse_manifest(json.dumps(GENERIC).encode())
    reordered = {"files": list(reversed(GENERIC["files"])), "note": "ignored"}
    b = parse_manifest(json.dumps(reordered, indent=4).encode())
    assert manifest_version(a) == manifest_version(b)


def test_a_changed_hash_changes_the_version() -> None:
    changed = {"files": [{"path": "b.csv", "sha256": "23"}, {"path": "a.csv", "sha256": "11"}]}
    assert manifest_version(parse_manifest(json.dumps(GENERIC).encode())) != manifest_version(
        parse_manifest(json.dumps(changed).encode())
    )


def test_dvc_file() -> None:
    assert parse_manifest(DVC) == [("data.csv", "md5:1a2b")]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[1, 2]", "must be a mapping"),
        (b"files: []", "non-empty"),
        (b"files: [{sha256: x}]", "no 'path'"),
        (b"files: [{path: a.csv}]", "no hash"),
        (b"files: [{path: a, md5: x}, {path: a, md5: y}]", "more than once"),
        (b"\xff\xfe", "neither JSON nor YAML"),
        (b"files: [unclosed", "neither JSON nor YAML"),
    ],
)
def test_bad_manifests(body: bytes, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        parse_manifest(body)


async def test_resolve_over_http(data_server: DataServer) -> None:
    url = data_server.put("/data.dvc", Served(DVC, content_type="application/yaml"))
    bad = data_server.put("/bad.json", Served(b'{"files": 3}', content_type="application/json"))
    async with httpx.AsyncClient(trust_env=False) as client:
        first = await resolve_manifest(HttpCheck(client, url, None, 1 << 30, None, NOW))
        assert first.value == manifest_version([("data.csv", "md5:1a2b")])
        again = await resolve_manifest(HttpCheck(client, url, None, 1 << 30, first.validators, NOW))
        assert again.not_modified
        broken = await resolve_manifest(HttpCheck(client, bad, None, 1 << 30, None, NOW))
    assert broken.error is not None and broken.error.reason is ErrorReason.INVALID_MANIFEST
