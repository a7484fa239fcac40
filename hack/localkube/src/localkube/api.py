"""Small synchronous API-server calls used while a cluster starts (stdlib only).

Start-up needs only a handful of GETs, so this avoids pulling a full client into
the control-plane launcher.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from localkube.certs import Pki


class StartupTimeout(RuntimeError):
    """A component did not become ready in time."""


def _context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    ctx.load_cert_chain(str(pki.admin.cert), str(pki.admin.key))
    return ctx


def get(server: str, pki: Pki, path: str, *, timeout: float = 5.0) -> tuple[int, Any]:
    """GET ``path`` as the cluster admin; returns (status, parsed JSON or text)."""
    return request(server, pki, "GET", path, timeout=timeout)


def request(
    server: str, pki: Pki, method: str, path: str, *, body: Any = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """One API call as the cluster admin; returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    req = urllib.request.Request(server + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, context=_context(pki), timeout=timeout) as resp:
            body = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        body, status = err.read().decode(errors="replace"), err.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def healthy(server: str, pki: Pki) -> bool:
    try:
        status, _ = get(server, pki, "/readyz", timeout=2.0)
    except (OSError, ssl.SSLError):
        return False
    return status == 200


def _poll(
    what: str, probe: Callable[[], bool], *, deadline: float, alive: Callable[[], None]
) -> None:
    while True:
        alive()
        try:
            if probe():
                return
        except (OSError, ssl.SSLError):
            pass
        if time.monotonic() > deadline:
            raise StartupTimeout(f"timed out waiting for {what}")
        time.sleep(0.1)


def _nothing() -> None:
    return None


def wait_etcd(port: int, *, deadline: float, alive: Callable[[], None] = _nothing) -> None:
    def probe() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")

    _poll("etcd /health", probe, deadline=deadline, alive=alive)


def wait_ready(
    server: str, pki: Pki, *, deadline: float, alive: Callable[[], None] = _nothing
) -> None:
    _poll("kube-apiserver /readyz", lambda: healthy(server, pki), deadline=deadline, alive=alive)


def wait_node_ready(
    server: str,
    pki: Pki,
    node: str,
    *,
    deadline: float,
    alive: Callable[[], None] = _nothing,
    logs: str,
) -> None:
    def probe() -> bool:
        status, body = get(server, pki, f"/api/v1/nodes/{node}")
        if status != 200:
            return False
        conds = body.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    _poll(f"node {node} to be Ready (see {logs})", probe, deadline=deadline, alive=alive)


def wait_default_sa(server: str, pki: Pki, *, deadline: float) -> None:
    def probe() -> bool:
        status, _ = get(server, pki, "/api/v1/namespaces/default/serviceaccounts/default")
        return status == 200

    _poll("the default ServiceAccount", probe, deadline=deadline, alive=_nothing)
