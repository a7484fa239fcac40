"""``manifest.json``: the sha256 and size of every other file in a model directory.

The trainer writes it with the directory; the server checks the files it is about
to run against it, so a model file changed after training (tampering, a partial
copy) is refused at start instead of being served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from modelpipe_trainer.errors import ModelRejectedError

MANIFEST_FILE = "manifest.json"


def build_manifest(files: Mapping[str, bytes]) -> bytes:
    """The manifest of ``files`` (name to content), as the bytes to write."""
    entries = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data)}
        for name, data in sorted(files.items())
    }
    return json.dumps({"files": entries}, indent=2).encode() + b"\n"


def checked_read(model_dir: Path, name: str) -> bytes:
    """The bytes of ``model_dir/name``, refused unless they match the manifest's entry."""
    try:
        data = (model_dir / name).read_bytes()
    except OSError as exc:
        raise ModelRejectedError(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    verify(model_dir, name, data)
    return data


def verify(model_dir: Path, name: str, data: bytes) -> None:
    """Refuse ``data`` (read from ``model_dir/name``) unless it matches the manifest's entry."""
    path = model_dir / name
    try:
        manifest = json.loads((model_dir / MANIFEST_FILE).read_bytes())
    except OSError as exc:
        raise ModelRejectedError(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    except ValueError:
        raise ModelRejectedError(f"{model_dir / MANIFEST_FILE} is not valid JSON") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    entry = files.get(name) if isinstance(files, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise ModelRejectedError(
            f"{MANIFEST_FILE} lists no sha256 for {name}, so it was not loaded"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise ModelRejectedError(
            f"{path} does not match {MANIFEST_FILE} (sha256 {digest[:12]}..., expected "
            f"{entry['sha256'][:12]}...): changed after training, so it was not loaded"
        )
