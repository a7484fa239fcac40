"""``manifest.json``: the sha256 and size of every other file in a model directory.

The trainer writes it with the directory; the server, and ``upload-model`` and
``fetch-model`` (:mod:`modelpipe_trainer.modelstore`), check the files against it, so a
model file changed after training (tampering, a partial copy) is refused instead of
served. This module holds no I/O: it builds, parses and checks bytes;
:mod:`modelpipe_trainer.modeldir` and :mod:`modelpipe_trainer.modelstore` read the files.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from modelpipe_trainer.errors import ModelRejectedError

MANIFEST_FILE = "manifest.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int


def entry_of(data: bytes) -> Entry:
    return Entry(hashlib.sha256(data).hexdigest(), len(data))


def build_manifest(files: Mapping[str, bytes]) -> bytes:
    """The manifest of ``files`` (name to content), as the bytes to write."""
    entries = {
        name: {"sha256": entry.sha256, "sizeBytes": entry.size}
        for name, entry in sorted((n, entry_of(d)) for n, d in files.items())
    }
    return json.dumps({"files": entries}, indent=2).encode() + b"\n"


def parse_manifest(raw: bytes) -> dict[str, Entry]:
    """``{"files": {name: {sha256, sizeBytes}}}`` with plain file names, else
    ``ModelRejectedError``: a name with a slash or ``..`` would write or read outside the
    model directory."""
    try:
        files = json.loads(raw)["files"]
        entries = {
            str(name): Entry(str(entry["sha256"]), int(entry["sizeBytes"]))
            for name, entry in files.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ModelRejectedError(f"{MANIFEST_FILE} is not a model manifest") from None
    for name, entry in entries.items():
        if not _NAME.match(name) or name == MANIFEST_FILE:
            raise ModelRejectedError(f"{MANIFEST_FILE} lists {name[:80]!r}, not a plain file name")
        if not _HEX.match(entry.sha256) or entry.size < 0:
            raise ModelRejectedError(f"{MANIFEST_FILE} has no valid sha256 and size for {name}")
    return entries


def mismatch(name: str, seen: Entry, want: Entry) -> str:
    """What differs between a file (``seen``) and its manifest entry (``want``)."""
    return (
        f"{name} does not match {MANIFEST_FILE} (sha256 {seen.sha256[:12]}..., "
        f"{seen.size} bytes; expected {want.sha256[:12]}..., {want.size} bytes)"
    )


def check_file(manifest: bytes, *, model_dir: str, name: str, data: bytes) -> None:
    """Refuse ``data`` (read from ``model_dir/name``) unless it matches ``manifest``'s entry."""
    want = parse_manifest(manifest).get(name)
    if want is None:
        raise ModelRejectedError(f"{MANIFEST_FILE} lists no {name}, so it was not loaded")
    seen = entry_of(data)
    if seen != want:
        raise ModelRejectedError(
            f"{model_dir}/{mismatch(name, seen, want)}: changed after training, "
            "so it was not loaded"
        )
