"""Fetching a dataset's bytes from ``file://``, ``http(s)://`` or a plain path, and
the format its URI names.

The trainer hashes exactly the bytes it parses, so lineage can prove which data a
model saw; that is why this module returns bytes rather than a file handle. Reads
are capped at ``maxDownloadBytes`` so a wrong URL cannot fill the pod's memory.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import DatasetRef

from modelpipe_trainer.errors import TrainerError, failure
from modelpipe_trainer.tables import Format

HTTP_TIMEOUT_SECONDS = 30.0
_CHUNK = 1 << 20
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class FetchedData:
    data: bytes
    sha256: str


class DataUnavailableError(Exception):
    """The bytes could not be had: a missing file, an unreachable URL, an oversize body."""


def dataset_format(ref: DatasetRef) -> Format:
    """The declared format, or the one the URI's extension names."""
    if ref.format is not None:
        return ref.format
    suffix = PurePosixPath(urlsplit(ref.uri).path).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise TrainerError(
        Outcome.INVALID_CONFIG,
        "cannot tell the dataset's format",
        [failure("config", f"{ref.uri}: the extension is not .csv or .parquet; set format")],
    )


def fetch_dataset(ref: DatasetRef, *, max_bytes: int, role: str) -> FetchedData:
    """Read the dataset's bytes; raise ``TrainerError`` with the outcome to report."""
    try:
        data = _read(ref.uri, max_bytes=max_bytes)
    except DataUnavailableError as exc:
        raise TrainerError(
            Outcome.VALIDATION_FAILED,
            f"cannot read the {role} dataset",
            [failure("dataset_readable", f"{ref.uri}: {exc}")],
        ) from None
    return FetchedData(data=data, sha256=hashlib.sha256(data).hexdigest())


def _read(uri: str, *, max_bytes: int) -> bytes:
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return _read_http(uri, max_bytes=max_bytes)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DataUnavailableError(f"file:// URIs must be local, not on host {parts.netloc!r}")
        return _read_file(Path(unquote(parts.path)), max_bytes=max_bytes)
    if parts.scheme == "":
        return _read_file(Path(uri), max_bytes=max_bytes)
    raise TrainerError(
        Outcome.INVALID_CONFIG,
        "the dataset URI has an unsupported scheme",
        [failure("config", f"{uri}: scheme {parts.scheme!r} is not one of file, http, https")],
    )


def _read_file(path: Path, *, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataUnavailableError(_too_big(size, max_bytes))
        return path.read_bytes()
    except FileNotFoundError:
        raise DataUnavailableError("no such file") from None
    except IsADirectoryError:
        raise DataUnavailableError("is a directory, not a file") from None
    except OSError as exc:
        raise DataUnavailableError(exc.strerror or str(exc)) from None


def _read_http(uri: str, *, max_bytes: int) -> bytes:
    request = urllib.request.Request(uri, headers={"User-Agent": "modelpipe-trainer"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise DataUnavailableError(_too_big(int(declared), max_bytes))
            return _read_capped(response, max_bytes=max_bytes)
    except urllib.error.HTTPError as exc:
        raise DataUnavailableError(f"the server answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataUnavailableError(f"cannot reach the server: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise DataUnavailableError(f"the download failed: {exc}") from None


def _read_capped(response: urllib.response.addinfourl, *, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := response.read(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise DataUnavailableError(_too_big(total, max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(size: int, max_bytes: int) -> str:
    return f"{size} bytes is more than maxDownloadBytes ({max_bytes}); raise it in the config"
