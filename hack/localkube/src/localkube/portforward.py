"""``kubectl port-forward`` on loopback for as long as a with-block runs.

Pod and Service addresses of a real node exist only inside its network namespaces, so
the host reaches a pod the way a user would: through the API server's port-forward
(kubelet -> containerd, which dials localhost inside the pod's network namespace).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from localkube.processes import free_ports

if TYPE_CHECKING:
    from localkube.cluster import Cluster


class PortForwardError(RuntimeError):
    """kubectl port-forward exited or never listened; the message carries its stderr."""


@contextmanager
def port_forward(
    cluster: Cluster, *, namespace: str, target: str, port: int, timeout: float = 60
) -> Iterator[int]:
    """Forward 127.0.0.1:<a free port> to ``target`` (``service/x``, ``pod/y``) ``port``;
    yield the local port once kubectl listens."""
    (local,) = free_ports(1)
    argv = [str(cluster.kubectl_path), "--kubeconfig", str(cluster.kubeconfig),
            "--namespace", namespace, "port-forward", "--address", "127.0.0.1",
            target, f"{local}:{port}"]  # fmt: skip
    forward = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening(forward, local, deadline=time.monotonic() + timeout)
        yield local
    finally:
        forward.terminate()
        try:
            forward.wait(timeout=10)
        except subprocess.TimeoutExpired:
            forward.kill()
            forward.wait(timeout=10)
        if forward.stderr is not None:
            forward.stderr.close()


def _wait_listening(forward: subprocess.Popen[str], local: int, *, deadline: float) -> None:
    while True:
        if forward.poll() is not None:
            stderr = forward.stderr.read() if forward.stderr else ""
            raise PortForwardError(f"kubectl port-forward exited: {stderr.strip()}")
        try:
            socket.create_connection(("127.0.0.1", local), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise PortForwardError("kubectl port-forward did not listen in time") from None
            time.sleep(0.2)
