"""pytest fixtures for a real S3 server (versitygw on 127.0.0.1; see server.py).

``s3_server`` is one server for the session; ``s3_outage_server`` is a test's own,
for stopping and starting it. ``s3_bucket`` makes a fresh, versioned bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.objectstore.server import S3Server, server_binary


@pytest.fixture(scope="session")
def s3_binary() -> Path:
    return server_binary()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory, s3_binary: Path) -> Iterator[S3Server]:
    server = S3Server(data_dir=tmp_path_factory.mktemp("s3"), binary=s3_binary)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_outage_server(tmp_path: Path, s3_binary: Path) -> Iterator[S3Server]:
    server = S3Server(data_dir=tmp_path / "s3", binary=s3_binary)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    return s3_server.bucket(f"mp-{secrets.token_hex(4)}", versioned=True)
