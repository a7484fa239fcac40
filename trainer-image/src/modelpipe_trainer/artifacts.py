"""Writing a model directory atomically: temp directory, fsync, rename.

A reader (the server, the next run's champion evaluation) sees either no
``<modelVersion>/`` directory or a complete one. A Job that is retried after a
crash finds its own earlier attempt in place; that attempt is moved aside, the
new one renamed in, and the old one removed, so a retry always succeeds.
Left-over temp directories of the same version (a crash mid-write) are removed
first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from modelpipe_contract.result import Outcome

from modelpipe_trainer.errors import TrainerError, failure


def write_model_dir(*, artifacts_dir: Path, version: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` into ``artifacts_dir/version/`` atomically; return that directory."""
    final = artifacts_dir / version
    staging: Path | None = None
    try:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(artifacts_dir, version)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}+", dir=artifacts_dir))
        for name, data in files.items():
            _write_synced(staging / name, data)
        staging.chmod(0o755)
        _fsync_dir(staging)
        _replace(staging, final)
        _fsync_dir(artifacts_dir)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise TrainerError(
            Outcome.ARTIFACT_WRITE_FAILED,
            f"cannot write the model to {final}",
            [failure("artifact_write", f"{exc.filename or final}: {exc.strerror or exc}")],
        ) from None
    return final


def _replace(staging: Path, final: Path) -> None:
    if not final.exists() and not final.is_symlink():
        staging.rename(final)
        return
    # Directories cannot be swapped in one rename; move the old attempt aside first.
    aside = Path(tempfile.mkdtemp(prefix=f".old-{final.name}+", dir=final.parent))
    final.rename(aside / final.name)
    staging.rename(final)
    shutil.rmtree(aside, ignore_errors=True)


def _remove_leftovers(artifacts_dir: Path, version: str) -> None:
    # "+" cannot occur in a version, so version "v1" never matches "v1-2"'s leftovers.
    for prefix in (f".tmp-{version}+", f".old-{version}+"):
        for stale in artifacts_dir.glob(f"{prefix}*"):
            shutil.rmtree(stale, ignore_errors=True)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o644)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)
