"""Model directories in S3 (``spec.artifacts.s3``): ``upload-model`` and ``fetch-model``.

Both run from the operator's own trainer image, never an image the pipeline's author
chose, because they hold the keys of ``spec.artifacts.s3.credentialsSecret`` (mounted as
files into these containers only; without a Secret, botocore's standard chain).

``upload-model`` is the training pod's main container. ``train`` runs before it as an
init container, so it starts only once training exited 0, and it uploads the model
directory under the run's own prefix ``<base><run id>/``: every file listed in
``manifest.json`` first, ``manifest.json`` last. A prefix without ``manifest.json`` is an
unfinished upload and is never served. The directory was written by code the author may
control, so nothing is followed: a symbolic link anywhere (a link to the mounted keys
would upload them) or a file that does not match the manifest refuses the upload.

``fetch-model`` is an init container of the serving pods (and of a training pod, for
the champion). It reads the run prefix's ``manifest.json``, downloads every file it
lists into a fresh directory, checking each one's size and sha256 as it streams, and
renames the directory into place only when all match. Anything else exits non-zero, so
the server never starts on a model that changed after training.

Messages name the S3 error code and status, never a key or a response body.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.manifest import MANIFEST_FILE, Entry, mismatch, parse_manifest
from modelpipe_trainer.objectfetch import (
    CREDENTIALS_DIR_ENV,
    FetchError,
    make_client,
    settings,
)

MODEL_DIR_ENV = "MODELPIPE_MODEL_DIR"
MODEL_URI_ENV = "MODELPIPE_MODEL_URI"
RUN_ID_ENV = "MODELPIPE_RUN_ID"
MAX_BYTES_ENV = "MODELPIPE_MODEL_MAX_BYTES"
DEFAULT_MAX_BYTES = 4 << 30
MAX_MANIFEST_BYTES = 1 << 20
# A refused model directory (no manifest, a mismatch, a link): retrying cannot help.
REFUSED_EXIT = 5
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
_CHUNK = 1 << 20


class RefusedError(FetchError):
    """The model directory or its manifest is refused; retrying cannot help."""


def _entries(raw: bytes) -> dict[str, Entry]:
    try:
        return parse_manifest(raw)
    except ModelRejectedError as exc:
        raise RefusedError(str(exc)) from None


def split_uri(uri: str) -> tuple[str, str]:
    """Bucket and key prefix (ending in ``/``) of ``s3://bucket/prefix/``."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.endswith("/"):
        raise RefusedError(f"{uri[:200]!r} is not an s3://bucket/prefix/ URI")
    return parts.netloc, parts.path.lstrip("/")


@contextmanager
def _open_regular(path: Path) -> Iterator[IO[bytes]]:
    """``path`` opened for reading only if it is a regular file reached by no link."""
    try:
        # O_NONBLOCK: a FIFO the author's code left has no writer any more and would block.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise RefusedError(f"cannot open {path.name}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RefusedError(f"{path.name} is not a regular file")
        yield handle


def _no_links(path: Path) -> None:
    """Refuse a model directory reached through a symbolic link (e.g. to the keys)."""
    for part in (path, *path.parents):
        if part.is_symlink():
            raise RefusedError(f"{part} is a symbolic link; the model directory is refused")
    if not path.is_dir():
        raise RefusedError(f"{path} is not a directory: the trainer wrote no model")


def _digest(handle: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def upload(client: Any, *, model_dir: Path, uri: str, max_bytes: int) -> None:
    """Every file of the manifest under ``uri``, then the manifest itself."""
    bucket, prefix = split_uri(uri)
    _no_links(model_dir)
    with _open_regular(model_dir / MANIFEST_FILE) as handle:
        raw = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise RefusedError(f"{MANIFEST_FILE} is over {MAX_MANIFEST_BYTES} bytes")
    entries = _entries(raw)
    if sum(e.size for e in entries.values()) > max_bytes:
        raise RefusedError(f"the model is over the limit of {max_bytes} bytes")
    for name, want in sorted(entries.items()):  # all checked before anything is sent
        with _open_regular(model_dir / name) as handle:
            seen = Entry(*_digest(handle))
        if seen != want:
            raise RefusedError(mismatch(name, seen, want))
    for name in sorted(entries):  # the training container has exited: nothing changes them
        with _open_regular(model_dir / name) as handle:
            _s3(client.put_object, uri, Bucket=bucket, Key=prefix + name, Body=handle)
    _s3(client.put_object, uri, Bucket=bucket, Key=prefix + MANIFEST_FILE, Body=raw)


def download(client: Any, *, uri: str, model_dir: Path, max_bytes: int) -> None:
    """The model under ``uri`` into ``model_dir``, every file checked, or nothing."""
    bucket, prefix = split_uri(uri)
    raw = _get(client, uri, bucket, prefix + MANIFEST_FILE, limit=MAX_MANIFEST_BYTES)
    entries = _entries(raw)
    if sum(e.size for e in entries.values()) > max_bytes:
        raise RefusedError(f"the model is over the limit of {max_bytes} bytes")
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".fetch-{model_dir.name}-", dir=model_dir.parent))
    try:
        for name, want in sorted(entries.items()):
            seen = _get_into(client, uri, bucket, prefix + name, staging / name, limit=want.size)
            if seen != want:
                raise RefusedError(mismatch(name, seen, want))
        (staging / MANIFEST_FILE).write_bytes(raw)
        if model_dir.exists():  # an earlier attempt of this init container
            shutil.rmtree(model_dir)
        staging.rename(model_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _get(client: Any, uri: str, bucket: str, key: str, *, limit: int) -> bytes:
    response = _s3(client.get_object, uri, Bucket=bucket, Key=key)
    if int(response.get("ContentLength") or 0) > limit:
        raise RefusedError(f"{key.rsplit('/', 1)[-1]} is over {limit} bytes")
    data: bytes = response["Body"].read(limit + 1)
    if len(data) > limit:
        raise RefusedError(f"{key.rsplit('/', 1)[-1]} is over {limit} bytes")
    return data


def _get_into(client: Any, uri: str, bucket: str, key: str, path: Path, *, limit: int) -> Entry:
    """Stream one object to ``path``; its sha256 and size (at most ``limit`` + 1 bytes read)."""
    body = _s3(client.get_object, uri, Bucket=bucket, Key=key)["Body"]
    digest, size = hashlib.sha256(), 0
    with path.open("xb") as out:
        while size <= limit and (chunk := body.read(_CHUNK)):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return Entry(digest.hexdigest(), size)


def _s3(call: Any, uri: str, **request: Any) -> Any:
    """One S3 request; its failure as a message without keys or response bodies."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        code = str(error.get("Code", "error"))
        name = str(request.get("Key", "")).rsplit("/", 1)[-1]
        if name == MANIFEST_FILE and code in ("NoSuchKey", "404"):
            raise RefusedError(
                f"{uri} has no {MANIFEST_FILE}: its upload never finished, so it is not served"
            ) from None
        raise FetchError(f"{uri}{name}: {code} ({status})") from None
    except BotoCoreError as exc:
        raise FetchError(f"{uri}: {type(exc).__name__}") from None


def _max_bytes(environ: Mapping[str, str]) -> int:
    text = environ.get(MAX_BYTES_ENV, "")
    return int(text) if text.isdigit() else DEFAULT_MAX_BYTES


def run(command: str, environ: Mapping[str, str], *, termination_path: str) -> int:
    """``upload-model`` or ``fetch-model`` from the environment; 0, 1 (retry) or 5 (refused)."""
    try:
        model_dir = Path(environ.get(MODEL_DIR_ENV, ""))
        uri = environ.get(MODEL_URI_ENV, "")
        if command == "upload-model":
            run_id = environ.get(RUN_ID_ENV, "")
            if not _RUN_ID.match(run_id):
                raise RefusedError(f"{RUN_ID_ENV} is not a run id: {run_id[:80]!r}")
            uri = f"{uri}{run_id}/"
        client = make_client(settings(environ.get(CREDENTIALS_DIR_ENV), environ))
        if command == "upload-model":
            upload(client, model_dir=model_dir, uri=uri, max_bytes=_max_bytes(environ))
            print(f"Uploaded the model to {uri}", flush=True)
        else:
            download(client, uri=uri, model_dir=model_dir, max_bytes=_max_bytes(environ))
            print(f"Fetched the model from {uri} into {model_dir} (verified)", flush=True)
    except FetchError as exc:
        verb = "upload" if command == "upload-model" else "fetch"
        message = f"cannot {verb} the model: {exc}"
        if Path(termination_path).parent.is_dir():
            Path(termination_path).write_text(message)
        print(message, flush=True)
        return REFUSED_EXIT if isinstance(exc, RefusedError) else 1
    return 0


def main(command: str) -> int:
    return run(command, os.environ, termination_path="/dev/termination-log")
