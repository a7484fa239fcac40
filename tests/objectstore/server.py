"""A real S3 server on loopback: Versity's S3 gateway (versitygw, Apache-2.0).

Built from its Go module by ``hack/localkube/build.sh s3`` (``make tools``, before
pytest starts) and run here with its posix back end, which keeps
each bucket as a directory and object versions in a second one, so bucket
versioning, ETags and conditional GETs behave as on AWS S3.

:class:`S3Server` binds a loopback address on a port picked once and can be
stopped and started again on the same port and data (to test outages and
recovery).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "hack" / "localkube" / "build.sh"
REGION = "us-east-1"


def server_binary() -> Path:
    """The cached versitygw binary; builds it when missing (minutes, once)."""
    built = subprocess.run(
        ["bash", str(BUILD), "s3"], capture_output=True, text=True, timeout=1800, check=False
    )
    if built.returncode != 0:
        raise RuntimeError(f"hack/localkube/build.sh s3 failed:\n{built.stderr[-4000:]}")
    return Path(built.stdout.strip().splitlines()[-1]) / "versitygw"


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls it


def _die_with_parent(parent: int) -> None:
    """In the child before exec: SIGKILL it when the process that started it dies, so a
    pytest killed mid-test (timeout, CI cancel, kill -9) leaves no server behind. The
    signal follows the starting thread; the servers are started from pytest's main one.
    A parent that died before the prctl is seen as a changed parent pid: exit at once."""
    if _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
        os._exit(1)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    """One versitygw process over ``data_dir``; ``endpoint`` is its http:// URL."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    access_key: str = field(default_factory=lambda: "mp" + secrets.token_hex(8))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    binary: Path | None = None
    # versitygw's internal IAM (--iam-dir under data_dir): accounts besides root.
    iam: bool = False
    # The endpoint handed out when others reach the server elsewhere than on loopback (a
    # real node's pods and operator: localkube.reach); this process's client stays local.
    public_endpoint: str | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return self.public_endpoint or self.local_endpoint

    @property
    def local_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout_seconds: float = 30.0) -> None:
        if self._process is not None:
            return
        self.port = self.port or _free_port(self.host)
        binary = self.binary or server_binary()
        (self.data_dir / "buckets").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "versions").mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "server.log").open("ab")
        # The keys go through the environment, not argv: process listings show argv.
        env = {
            "PATH": os.environ.get("PATH", ""),
            "ROOT_ACCESS_KEY": self.access_key,
            "ROOT_SECRET_KEY": self.secret_key,
        }
        iam: list[str] = []
        if self.iam:
            (self.data_dir / "iam").mkdir(exist_ok=True)
            iam = ["--iam-dir", str(self.data_dir / "iam")]
        self._process = subprocess.Popen(
            [str(binary), "--port", f"{self.host}:{self.port}", "--region", REGION, "--quiet",
             *iam, "posix", "--versioning-dir", str(self.data_dir / "versions"),
             str(self.data_dir / "buckets")],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"versitygw exited: {self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"versitygw did not listen within {timeout_seconds:g}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self) -> str:
        log = self.data_dir / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def client(self, **overrides: Any) -> Any:
        """A boto3 S3 client with the server's root keys (path-style addressing)."""
        import boto3
        from botocore.config import Config

        settings: dict[str, Any] = {
            "endpoint_url": self.local_endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": REGION,
            "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        }
        return boto3.client("s3", **{**settings, **overrides})

    def bucket(self, name: str, *, versioned: bool = False) -> str:
        s3 = self.client()
        s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name
