"""The egress policy at the socket: resolve, check every address, connect to a checked one.

:class:`GuardedBackend` is the network backend of the pollers' HTTP client: httpcore
asks it for every new connection — the first request and each redirect hop alike
— so the policy (``modelpipe.sources.egress``) judges the addresses actually
connected to, not only the name in the spec. It connects to the address it
checked, so a second DNS answer (rebinding) is never used; TLS still verifies the
URL's host name (httpcore passes it as SNI separately).

``git ls-remote`` resolves names itself, so :func:`pinned_addresses` checks the
addresses first and the caller pins git to them (``http.curloptResolve``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from modelpipe.sources.egress import EgressPolicy, is_address, normal_host

Resolver = Callable[[str, int], Awaitable[list[str]]]


class EgressRefused(httpcore.ConnectError):
    """A connection the egress policy refused; the message is the operator's own."""


class Unresolvable(httpcore.ConnectError):
    """The host has no address (yet): an outage, not a refusal."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(
    policy: EgressPolicy, host: str, port: int, *, resolver: Resolver = resolve
) -> list[str]:
    """The addresses of ``host``, all allowed by ``policy``; else :class:`EgressRefused`."""
    refused = policy.check_host(host)
    if refused:
        raise EgressRefused(refused)
    if is_address(host):
        return [normal_host(host)]  # checked above; nothing to resolve
    try:
        addresses = await resolver(normal_host(host), port)
    except OSError:
        raise Unresolvable(f"cannot resolve host {normal_host(host)}") from None
    if not addresses:
        raise Unresolvable(f"host {normal_host(host)} has no address")
    for address in addresses:
        refused = policy.check_address(address, host=host)
        if refused:
            raise EgressRefused(refused)
    return addresses


def refusal_of(error: BaseException) -> str | None:
    """The policy's message if ``error`` (an httpx error, or its cause) is a refusal."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, EgressRefused):
            return str(seen)
        seen = seen.__cause__
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the egress policy in front of every TCP connect."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy, self._resolver = policy, resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(self._policy, host, port, resolver=self._resolver)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("unix sockets are not a followed source")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: EgressPolicy, *, timeout_seconds: float, resolver: Resolver = resolve
) -> httpx.AsyncClient:
    """The pollers' HTTP client: redirects followed (≤5), each hop through the guard.

    ``trust_env=False``: no proxy or netrc of the operator's own is used for user URLs
    (a proxy would also hide the address connected to).
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no public seam for the network backend; httpcore's pool has one. A
    # test (tests/security/test_ssrf.py) fails if an upgrade moves it.
    pool: Any = transport._pool
    pool._network_backend = GuardedBackend(policy, resolver=resolver)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout_seconds, follow_redirects=True, max_redirects=5,
        trust_env=False,
    )  # fmt: skip
