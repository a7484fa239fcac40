"""The agent's configuration: command-line flags plus what it reads from the kubeconfig.

The lead's cluster start-up launches the agent with exactly these flags; they are the
interface between ``localkube.cluster`` and the agent.
"""

from __future__ import annotations

import argparse
import base64
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml


class ConfigError(Exception):
    """A flag or the kubeconfig is unusable; the message says what to fix."""


@dataclass(frozen=True)
class ApiAccess:
    """How to reach the apiserver as the agent (admin client certificate)."""

    server: str
    ca_pem: bytes
    client_cert: Path
    client_key: Path

    @property
    def host(self) -> str:
        return urlparse(self.server).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlparse(self.server).port or 443

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        ctx.load_cert_chain(str(self.client_cert), str(self.client_key))
        return ctx


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent was told at start-up."""

    node_name: str
    state_dir: Path
    ip_prefix: str
    kubelet_port: int
    tls_cert: Path
    tls_key: Path
    client_ca: Path
    venv_bin: Path
    api: ApiAccess


def parse_args(argv: list[str] | None = None) -> AgentConfig:
    """Parse the flags, failing with a clear message (never a stack trace)."""
    parser = argparse.ArgumentParser(
        prog="python -m localkube.agent",
        description="localkube node agent: runs the pods bound to one Node as host processes",
    )
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--node-name", required=True)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--ip-prefix", default="127.1")
    parser.add_argument("--kubelet-port", required=True, type=int)
    parser.add_argument("--tls-cert", required=True, type=Path)
    parser.add_argument("--tls-key", required=True, type=Path)
    parser.add_argument("--client-ca", required=True, type=Path)
    parser.add_argument("--venv-bin", required=True, type=Path)
    ns = parser.parse_args(argv)
    for flag in ("tls_cert", "tls_key", "client_ca", "kubeconfig"):
        path: Path = getattr(ns, flag)
        if not path.is_file():
            parser.error(f"--{flag.replace('_', '-')} {path}: no such file")
    if len(ns.ip_prefix.split(".")) != 2 or not ns.ip_prefix.startswith("127."):
        parser.error(f"--ip-prefix {ns.ip_prefix!r}: expected two octets in 127/8, e.g. 127.1")
    state_dir = ns.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        api = read_kubeconfig(ns.kubeconfig, secrets_dir=state_dir / "client")
    except ConfigError as err:
        parser.error(str(err))
    return AgentConfig(
        node_name=ns.node_name,
        state_dir=state_dir,
        ip_prefix=ns.ip_prefix,
        kubelet_port=ns.kubelet_port,
        tls_cert=ns.tls_cert.resolve(),
        tls_key=ns.tls_key.resolve(),
        client_ca=ns.client_ca.resolve(),
        venv_bin=ns.venv_bin.resolve(),
        api=api,
    )


def read_kubeconfig(path: Path, *, secrets_dir: Path) -> ApiAccess:
    """Read the current context's server, CA and client certificate.

    Inline ``*-data`` credentials are written to ``secrets_dir`` (mode 0600) because
    ``ssl.load_cert_chain`` only takes files.
    """
    try:
        doc = yaml.safe_load(path.read_text())
        ctx_name = doc["current-context"]
        context = _named(doc["contexts"], ctx_name)["context"]
        cluster = _named(doc["clusters"], context["cluster"])["cluster"]
        user = _named(doc["users"], context["user"])["user"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
        raise ConfigError(f"kubeconfig {path}: unreadable ({err!r})") from err
    base = path.parent
    ca_pem = _material(cluster, "certificate-authority", base)
    cert = _material(user, "client-certificate", base)
    key = _material(user, "client-key", base)
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = secrets_dir / "client.crt", secrets_dir / "client.key"
    for target, data in ((cert_path, cert), (key_path, key)):
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    return ApiAccess(
        server=str(cluster["server"]).rstrip("/"),
        ca_pem=ca_pem,
        client_cert=cert_path,
        client_key=key_path,
    )


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for item in items:
        if item.get("name") == name:
            return item
    raise KeyError(name)


def _material(section: dict[str, Any], key: str, base: Path) -> bytes:
    if f"{key}-data" in section:
        return base64.b64decode(str(section[f"{key}-data"]))
    if key in section:
        return (base / str(section[key])).read_bytes()
    raise ConfigError(f"kubeconfig has neither {key} nor {key}-data; the agent needs both")
