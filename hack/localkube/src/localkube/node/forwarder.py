"""Joins the host's loopback and the node's network namespace, both ways, with
no address outside loopback on the host:

* node -> API server: listens on ``127.0.0.1:<api port>`` and ``<node ip>:<api
  port>`` *inside* the node netns (the kubelet and kube-proxy use the former,
  pods reach the latter through the ``kubernetes`` Service) and relays to the API
  server on the host's ``127.0.0.1``. Every further node (``--also-netns``) gets a
  ``127.0.0.1:<api port>`` listener in its own netns, for its kubelet and kube-proxy.
* API server -> node and pods: an HTTP CONNECT proxy on a unix socket (the API
  server's egress selector for "cluster" traffic: logs, exec, port-forward,
  service and pod proxy). It dials targets inside the node netns; targets on
  127.0.0.0/8 (webhooks served on the host) are dialed on the host.

    python -m localkube.node.forwarder --netns PATH --node-ip IP --api-port N \\
        --egress-socket PATH [--also-netns PATH ...]

The egress proxy dials in the first node's netns; the nodes' namespaces are
linked (``localkube.node.links``), so the other nodes and their pods are reached
from there too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import socket
from pathlib import Path

from localkube.node.namespaces import entered_netns

_HEADER_LIMIT = 16 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    try:
        await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))
    finally:
        for writer in (a[1], b[1]):
            writer.close()


async def _connect(
    host: str, port: int, netns: Path
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if ipaddress.ip_address(host).is_loopback:
        sock = socket.socket(family, socket.SOCK_STREAM)
    else:
        with entered_netns(netns):
            sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, port)), 10)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


class Forwarder:
    def __init__(
        self,
        *,
        netns: Path,
        node_ip: str,
        api_port: int,
        egress_socket: Path,
        also: tuple[Path, ...] = (),
    ) -> None:
        self.netns, self.node_ip = netns, node_ip
        self.api_port, self.egress_socket = api_port, egress_socket
        self.also = also

    async def serve(self) -> None:
        with entered_netns(self.netns):
            listeners = [
                socket.create_server((address, self.api_port))
                for address in ("127.0.0.1", self.node_ip)
            ]
        for netns in self.also:
            with entered_netns(netns):
                listeners.append(socket.create_server(("127.0.0.1", self.api_port)))
        servers = [await asyncio.start_server(self._to_api, sock=s) for s in listeners]
        self.egress_socket.unlink(missing_ok=True)
        egress = await asyncio.start_unix_server(self._connect_proxy, path=str(self.egress_socket))
        self.egress_socket.chmod(0o600)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with contextlib.AsyncExitStack() as stack:
            for server in (egress, *servers):
                await stack.enter_async_context(server)
            await stop.wait()
        self.egress_socket.unlink(missing_ok=True)

    async def _to_api(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await asyncio.open_connection("127.0.0.1", self.api_port)
        except OSError:
            writer.close()
            return
        await _splice((reader, writer), upstream)

    async def _connect_proxy(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        request = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(head) > _HEADER_LIMIT or len(request) != 3 or request[0] != "CONNECT":
            await self._refuse(writer, "405 Method Not Allowed")
            return
        host, _, port = request[1].rpartition(":")
        try:
            upstream = await _connect(host.strip("[]"), int(port), self.netns)
        except (OSError, ValueError, TimeoutError):
            await self._refuse(writer, "502 Bad Gateway")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _splice((reader, writer), upstream)

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: str) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localkube.node.forwarder")
    parser.add_argument("--netns", type=Path, required=True)
    parser.add_argument("--node-ip", required=True)
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--egress-socket", type=Path, required=True)
    parser.add_argument("--also-netns", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    forwarder = Forwarder(
        netns=args.netns,
        node_ip=args.node_ip,
        api_port=args.api_port,
        egress_socket=args.egress_socket,
        also=tuple(args.also_netns),
    )
    asyncio.run(forwarder.serve())


if __name__ == "__main__":
    main()
