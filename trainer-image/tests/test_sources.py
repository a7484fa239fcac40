"""Fetching bytes: file://, plain paths, HTTP on loopback, and the ways that fails."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import DatasetRef

from modelpipe_trainer.errors import TrainerError
from modelpipe_trainer.sources import FetchedData, fetch_dataset


def _fetch(uri: str, max_bytes: int = 1 << 20) -> FetchedData:
    return fetch_dataset(DatasetRef(uri=uri, version="1"), max_bytes=max_bytes, role="dataset")


def _failure(uri: str, max_bytes: int = 1 << 20) -> str:
    with pytest.raises(TrainerError) as caught:
        _fetch(uri, max_bytes)
    assert caught.value.outcome is Outcome.VALIDATION_FAILED
    return caught.value.failures[0].message


def test_plain_path_and_file_uri_read_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b\n1,2\n")
    plain, uri = _fetch(str(path)), _fetch(path.as_uri())
    assert plain.data == uri.data == b"a,b\n1,2\n"
    assert plain.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_http(http_root: tuple[Path, str]) -> None:
    root, base = http_root
    (root / "d.csv").write_bytes(b"a\n1\n")
    assert _fetch(f"{base}/d.csv").data == b"a\n1\n"


def test_http_not_found(http_root: tuple[Path, str]) -> None:
    _, base = http_root
    assert "HTTP 404" in _failure(f"{base}/missing.csv")


def test_unreachable_url() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "cannot reach the server" in _failure(f"http://127.0.0.1:{port}/d.csv")


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _failure(str(tmp_path / "nope.csv"))


def test_size_cap(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    (root / "big.csv").write_bytes(b"x" * 100)
    (tmp_path / "big.csv").write_bytes(b"x" * 100)
    assert "maxDownloadBytes" in _failure(f"{base}/big.csv", max_bytes=50)
    assert "maxDownloadBytes" in _failure(str(tmp_path / "big.csv"), max_bytes=50)


def test_unsupported_scheme_is_a_config_error() -> None:
    with pytest.raises(TrainerError) as caught:
        _fetch("s3://bucket/d.csv")
    assert caught.value.outcome is Outcome.INVALID_CONFIG
