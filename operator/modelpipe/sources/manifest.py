"""A manifest data source: a small JSON or YAML file that lists dataset files and their hashes.

This is what data teams already publish (DVC's ``.dvc`` files, a release's
``SHA256SUMS`` turned into JSON). The version is a hash of the *entries* — path
and content hash, sorted by path — so reformatting or reordering the manifest
does not retrain, while any changed, added or removed file does.

Errors name entries by their position, never by the paths or text the server sent.

Accepted shapes (YAML is parsed with ``safe_load``; JSON is YAML)::

    files: [{path: train.csv, sha256: 9f2c...}, ...]     # generic
    outs:  [{path: data.csv, md5: 1a2b..., size: 123}]   # a DVC .dvc file
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import yaml

from modelpipe.api.sources import ErrorReason, Observation
from modelpipe.sources.check import Check
from modelpipe.sources.httpdata import Fetched, HttpCheck, http_check, resolve_document

MAX_MANIFEST_BYTES = 1 << 20
MAX_ENTRIES = 100_000
# Preferred first: a collision-resistant hash beats a server-specific tag.
_DIGEST_KEYS = ("sha256", "sha512", "sha1", "md5", "hash", "checksum", "etag")


class ManifestError(ValueError):
    """The manifest cannot be understood; the message says what to fix."""


def parse_manifest(body: bytes) -> list[tuple[str, str]]:
    """Return sorted ``(path, "algo:digest")`` entries, or raise ManifestError."""
    try:
        document: Any = yaml.safe_load(body.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        # The parser's message quotes the offending line: the server's text, never shown.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ManifestError(f"manifest is neither JSON nor YAML{where}") from None
    if not isinstance(document, dict):
        raise ManifestError("manifest must be a mapping with a 'files' (or DVC 'outs') list")
    listed = document.get("files", document.get("outs"))
    if not isinstance(listed, list) or not listed:
        raise ManifestError("manifest needs a non-empty 'files' (or DVC 'outs') list")
    if len(listed) > MAX_ENTRIES:
        raise ManifestError(
            f"manifest lists {len(listed)} files; at most {MAX_ENTRIES} are allowed"
        )
    entries = [_entry(item, index) for index, item in enumerate(listed)]
    paths = [path for path, _ in entries]
    if len(set(paths)) != len(paths):
        raise ManifestError("manifest lists the same path more than once")
    return sorted(entries)


def _entry(item: object, index: int) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise ManifestError(f"entry {index} must be a mapping with 'path' and a hash")
    path = item.get("path")
    if not isinstance(path, str) or not path:
        raise ManifestError(f"entry {index} has no 'path'")
    for key in _DIGEST_KEYS:
        value = item.get(key)
        if isinstance(value, str | int) and str(value):
            return path, f"{key}:{value}"
    raise ManifestError(f"entry {index} has no hash (one of: {', '.join(_DIGEST_KEYS)})")


def manifest_version(entries: Sequence[tuple[str, str]]) -> str:
    canonical = json.dumps([list(entry) for entry in entries], separators=(",", ":"))
    return "manifest:sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def check(c: Check) -> Observation:
    """The manifest source type (modelpipe.sources.kinds): a digest of the listed files."""
    return await resolve_manifest(http_check(c))


async def resolve_manifest(check: HttpCheck) -> Observation:
    """Fetch (conditionally) and digest a manifest."""
    limited = replace(check, max_bytes=min(check.max_bytes, MAX_MANIFEST_BYTES))
    return await resolve_document(limited, keep_body=True, interpret=_digest)


def _digest(fetched: Fetched) -> Observation:
    try:
        entries = parse_manifest(fetched.body)
    except ManifestError as exc:
        return Observation.failed(ErrorReason.INVALID_MANIFEST, str(exc))
    return Observation(value=manifest_version(entries), validators=fetched.validators)
