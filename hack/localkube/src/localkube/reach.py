"""Reaching a cluster's pods from a process on the host, and serving to them.

Pod and Service addresses exist only inside the node's network namespace; there
is no route to them from the host and none out of them. A test then does what a
process on the node would:

* ``node_network(cluster)``: sockets created in the block belong to the node's
  namespace (this thread only) and keep it afterwards, so a server made there
  keeps serving from the host process, and a client made there reaches pod IPs.
* ``exposed(cluster, url)``: a server that stays on the host's loopback, as pods
  reach it (a relay in the test process).
* ``on_node(cluster, argv)``: the argv that runs a program inside the namespace
  (``ip netns exec``), e.g. the operator when a test runs it outside the cluster.
  Its 127.0.0.1 is the node's loopback, where the API server's port is forwarded.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from localkube.node.config import NODE_IP
from localkube.node.namespaces import entered_netns, netns_path

if TYPE_CHECKING:
    from localkube.cluster import Cluster


@contextlib.contextmanager
def node_network(cluster: Cluster) -> Iterator[None]:
    with entered_netns(netns_path(cluster.node_layout.netns)):
        yield


def on_node(cluster: Cluster, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", cluster.node_layout.netns, *argv]


@contextlib.contextmanager
def exposed(cluster: Cluster, url: str) -> Iterator[str]:
    """``url``, a server on the host's loopback, as the node's pods (and a program
    run ``on_node``) reach it: a relay in this process listens on the node's address
    and copies each connection to the host's server, so no route joins the two
    namespaces."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url}: needs an explicit host and port")
    with node_network(cluster):
        listener = socket.create_server((NODE_IP, 0))
    relay = _Relay(listener, (parts.hostname, parts.port))
    relay.start()
    try:
        netloc = f"{NODE_IP}:{listener.getsockname()[1]}"
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        relay.stop()


class _Relay:
    """Accepts on ``listener`` and copies each connection to ``target``, both ways."""

    def __init__(self, listener: socket.socket, target: tuple[str, int]) -> None:
        self.listener, self.target = listener, target
        self.listener.settimeout(0.2)
        self.stopping = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open |= {client, upstream}
            threading.Thread(target=self._serve, args=(client, upstream), daemon=True).start()

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        back = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
        back.start()
        _copy(client, upstream)
        back.join()
        with self.lock:
            self.open -= {client, upstream}
        client.close()
        upstream.close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
