"""``manifest.json``: the sha256 and size of every other file in a model directory.

The trainer writes it with the directory; the server checks the files it is about
to run against it, so a model file changed after training (tampering, a partial
copy) is refused at start instead of being served. This module holds no I/O: it
builds and checks bytes; :mod:`modelpipe_trainer.modeldir` reads the files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from modelpipe_trainer.errors import ModelRejectedError

MANIFEST_FILE = "manifest.json"


def build_manifest(files: Mapping[str, bytes]) -> bytes:
    """The manifest of ``files`` (name to content), as the bytes to write."""
    entries = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data)}
        for name, data in sorted(files.items())
    }
    return json.dumps({"files": entries}, indent=2).encode() + b"\n"


def check_file(manifest: bytes, *, model_dir: str, name: str, data: bytes) -> None:
    """Refuse ``data`` (read from ``model_dir/name``) unless it matches ``manifest``'s entry."""
    try:
        parsed = json.loads(manifest)
    except ValueError:
        raise ModelRejectedError(f"{model_dir}/{MANIFEST_FILE} is not valid JSON") from None
    files = parsed.get("files") if isinstance(parsed, dict) else None
    entry = files.get(name) if isinstance(files, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise ModelRejectedError(
            f"{MANIFEST_FILE} lists no sha256 for {name}, so it was not loaded"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise ModelRejectedError(
            f"{model_dir}/{name} does not match {MANIFEST_FILE} (sha256 {digest[:12]}..., "
            f"expected {entry['sha256'][:12]}...): changed after training, so it was not loaded"
        )
