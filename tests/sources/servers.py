"""Real servers on loopback for the sources tests and benchmarks.

- :class:`GitServer`: git's own smart-HTTP backend (``git http-backend``, the CGI
  program that ships with git) behind a small threaded HTTP server, optionally
  requiring basic auth. It counts ref discoveries (``GET .../info/refs``), which
  is what one ``git ls-remote`` costs.
- :class:`DataServer`: static files with ETag, Last-Modified or no validator,
  answering conditional requests with 304, counting requests.


All bind a loopback address (127.0.0.1 unless told another one of 127.0.0.0/8, to
play a second host) on a port picked once, and can be stopped and started again
on the same port (to test outages and recovery). Each remembers the
``Authorization`` headers it was sent, so a test can prove a credential never
reached it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modelpipe.sources.httpdata import short_hash


class _ClosingHTTPServer(ThreadingHTTPServer):
    """Remembers open connections, so stopping really cuts kept-alive clients off.

    Without this, a stopped server's handler threads would go on answering requests
    on connections a client keeps alive (httpx does), and an outage would not be one.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Server:
    """Start/stop a ThreadingHTTPServer on a fixed loopback port."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        assert host.startswith("127."), "test servers listen on loopback only"
        self.host = host
        self.port = 0
        # The base URL handed out, when others reach this server elsewhere than on
        # loopback (a real node's pods: tests/sources/conftest.py, localkube.reach).
        self.public_base: str | None = None
        self.requests: Counter[str] = Counter()
        self.authorizations: list[str] = []
        self._lock = threading.Lock()
        self._httpd: _ClosingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def count(self, what: str) -> None:
        with self._lock:
            self.requests[what] += 1

    def saw(self, headers: Any) -> None:
        """Remember the request's ``Authorization`` header, if it had one."""
        if headers.get("Authorization"):
            with self._lock:
                self.authorizations.append(str(headers["Authorization"]))

    def start(self) -> None:
        httpd = _ClosingHTTPServer((self.host, self.port), self.handler())
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections()
            self._httpd = None

    @property
    def base_url(self) -> str:
        return self.public_base or self.local_url

    @property
    def local_url(self) -> str:
        return f"http://{self.host}:{self.port}"


class GitServer(_Server):
    """Serves every bare repository under ``root`` at ``/<name>.git``."""

    def __init__(
        self, root: Path, *, auth: tuple[str, str] | None = None, host: str = "127.0.0.1"
    ) -> None:
        super().__init__(host=host)
        self.root = root
        self.auth = auth

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._cgi()

            def do_POST(self) -> None:
                self._cgi()

            def _cgi(self) -> None:
                parts = urlsplit(self.path)
                server.saw(self.headers)
                if parts.path.endswith("/info/refs"):
                    server.count("info/refs")
                server.count(f"{self.command} {parts.path.rsplit('/', 1)[-1]}")
                if not self._authorized():
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {
                    "PATH": "/usr/bin:/bin",
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": self.client_address[0],
                    "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "HOME": str(server.root),
                }
                out = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
                ).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                if not _:
                    head, _, payload = out.partition(b"\n\n")
                status, headers = 200, []
                for line in head.decode("latin-1").splitlines():
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _authorized(self) -> bool:
                if server.auth is None:
                    return True
                expected = base64.b64encode(f"{server.auth[0]}:{server.auth[1]}".encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

        return Handler


@dataclass
class Served:
    body: bytes
    content_type: str = "text/csv"
    validator: str = "etag"  # "etag", "last-modified" or "none"
    mtime: float = 1_700_000_000.0
    send_length: bool = True

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    @property
    def version(self) -> str:
        """The dataset version the operator makes of this file's ETag (a hash of it)."""
        return f"etag:{short_hash(self.etag)}"

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


class DataServer(_Server):
    """Static files; or, with ``redirect_to``, a 302 for every request to that base URL."""

    def __init__(self, *, host: str = "127.0.0.1", redirect_to: str | None = None) -> None:
        super().__init__(host=host)
        self.files: dict[str, Served] = {}
        self.status_override: dict[str, tuple[int, dict[str, str]]] = {}
        self.redirect_to = redirect_to

    def put(self, path: str, served: Served) -> str:
        self.files[path] = served
        return f"{self.base_url}{path}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                server.count(path)
                server.saw(self.headers)
                if server.redirect_to is not None:
                    self._empty(302, {"Location": server.redirect_to.rstrip("/") + self.path})
                    return
                if path in server.status_override:
                    status, extra = server.status_override[path]
                    self._empty(status, extra)
                    return
                served = server.files.get(path)
                if served is None:
                    self._empty(404, {})
                    return
                headers = {"Content-Type": served.content_type}
                if served.validator == "etag":
                    headers["ETag"] = served.etag
                elif served.validator == "last-modified":
                    headers["Last-Modified"] = served.last_modified
                if self._not_modified(served):
                    server.count("304")
                    self._empty(304, headers)
                    return
                self._send(served, headers)

            def _not_modified(self, served: Served) -> bool:
                if served.validator == "etag":
                    return self.headers.get("If-None-Match") == served.etag
                if served.validator == "last-modified":
                    return self.headers.get("If-Modified-Since") == served.last_modified
                return False

            def _empty(self, status: int, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, served: Served, headers: dict[str, str]) -> None:
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                if served.send_length:
                    self.send_header("Content-Length", str(len(served.body)))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if served.send_length:
                        self.wfile.write(served.body)
                    else:
                        for chunk in _chunks(served.body, 65536):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: that is what a size limit does

        return Handler


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class Repo:
    """A bare repository served by :class:`GitServer`, plus a work tree to commit from."""

    def __init__(self, root: Path, name: str = "model") -> None:
        self.bare = root / f"{name}.git"
        self.work = root / f"{name}-work"
        self.name = name
        _git("init", "-q", "--bare", "-b", "main", str(self.bare))
        _git("init", "-q", "-b", "main", str(self.work))
        self.commit("initial")

    def commit(self, message: str, *, branch: str = "main") -> str:
        """Commit to ``branch`` and push it; returns the new SHA."""
        _git("-C", str(self.work), "checkout", "-q", "-B", branch)
        (self.work / "train.txt").write_text(message)
        _git("-C", str(self.work), "add", "train.txt")
        _git("-C", str(self.work), "commit", "-q", "-m", message)
        _git("-C", str(self.work), "push", "-q", "-f", str(self.bare), branch)
        return self.head(branch)

    def tag(self, name: str, *, annotated: bool) -> None:
        extra = ["-a", "-m", name] if annotated else []
        _git("-C", str(self.work), "tag", *extra, name)
        _git("-C", str(self.work), "push", "-q", str(self.bare), name)

    def head(self, rev: str = "main") -> str:
        return _git("-C", str(self.work), "rev-parse", f"{rev}^{{commit}}").strip()


def _git(*args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(
        ["git", *args], env=env, capture_output=True, text=True, check=True
    ).stdout
