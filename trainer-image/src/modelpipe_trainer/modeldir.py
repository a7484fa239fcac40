"""Reading a model directory: its JSON documents, and files checked against its manifest.

The I/O half of :mod:`modelpipe_trainer.documents` and :mod:`modelpipe_trainer.manifest`,
which parse and check bytes and read nothing (``.importlinter``). Every failure is a
``ModelRejectedError`` naming the file, never a stack trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from modelpipe_trainer.documents import Document, parse_document
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.manifest import MANIFEST_FILE, check_file

_D = TypeVar("_D", bound=Document)


def read_document(path: Path, kind: type[_D]) -> _D:
    """One document of a model directory, or ``ModelRejectedError`` saying what is wrong."""
    return parse_document(_read(path), kind, source=str(path))


def checked_read(model_dir: Path, name: str) -> bytes:
    """The bytes of ``model_dir/name``, refused unless they match the manifest's entry."""
    data = _read(model_dir / name)
    verify(model_dir, name, data)
    return data


def verify(model_dir: Path, name: str, data: bytes) -> None:
    """Refuse ``data`` (read from ``model_dir/name``) unless it matches the manifest's entry."""
    manifest = _read(model_dir / MANIFEST_FILE)
    check_file(manifest, model_dir=str(model_dir), name=name, data=data)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelRejectedError(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
