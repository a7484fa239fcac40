"""A relay in front of the S3 server that holds one kind of request: a trainer caught
in the middle of its upload, for as long as a test needs to kill it there.

It copies every connection both ways, like localkube.reach's relay, and stops copying a
connection from the client once a chunk carries a request line containing ``marker``
(for example ``b"/manifest.json"`` in a PUT) after it was armed: that request never
reaches the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

HOLD_SECONDS = 180.0


@dataclass(frozen=True)
class Hold:
    """The relay's ``url``; set ``armed`` to start holding; ``held`` is set once it held."""

    url: str
    armed: threading.Event
    held: threading.Event


@contextlib.contextmanager
def holding(endpoint: str, *, method: bytes, marker: bytes) -> Iterator[Hold]:
    """``endpoint`` relayed on another loopback port; once ``armed``, it holds ``method``
    requests whose request line contains ``marker`` and sets ``held``. A held connection
    is closed after ``HOLD_SECONDS`` or when the block ends."""
    parts = urlsplit(endpoint)
    assert parts.hostname and parts.port, endpoint
    target = (parts.hostname, parts.port)
    armed, held, release = threading.Event(), threading.Event(), threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    sockets: set[socket.socket] = set()

    def copy(source: socket.socket, sink: socket.socket, *, inspect: bool) -> None:
        try:
            while data := source.recv(65536):
                line = data.split(b"\r\n", 1)[0]
                if inspect and armed.is_set() and line.startswith(method + b" ") and marker in line:
                    held.set()
                    release.wait(timeout=HOLD_SECONDS)
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while not release.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            sockets.update((client, upstream))
            for args in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=copy, args=args[:2], kwargs={"inspect": args[2]}, daemon=True
                ).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield Hold(f"http://127.0.0.1:{listener.getsockname()[1]}", armed, held)
    finally:
        release.set()
        acceptor.join(timeout=5)
        listener.close()
        for sock in list(sockets):
            sock.close()
