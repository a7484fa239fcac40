"""The benchmarks' asyncio API client: JSON requests and watches as the cluster admin.

The benchmarks measure latencies of a few milliseconds with many requests in flight, so
they use one aiohttp session (one connection pool, no thread per request) rather than
the kubernetes package's blocking client. aiohttp comes with kopf.

Why not the operator's own ``modelpipe.k8s.rest.Rest``: this is the load generator and
the stopwatch, on the other side of the API server from the operator being measured. It
must not share the code it times (a slower ``Rest`` would slow both sides and hide in the
ratios), it needs watches (``Rest`` has none: kopf watches for the operator) and a 300-
pipeline burst of requests in flight at once on one event loop, where ``Rest`` is
blocking, one thread per request, and retries 429/5xx (which a benchmark must see, not
absorb). ``Rest`` itself is measured against other clients in ``operator/bench_clients.py``.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from localkube.cluster import Cluster

Json = dict[str, Any]
MERGE = "application/merge-patch+json"


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


class KubeApi:
    """Requests and watches against one local cluster, with its admin certificate."""

    def __init__(self, cluster: Cluster) -> None:
        pki = cluster.pki
        context = ssl.create_default_context(cafile=str(pki.ca.cert))
        context.load_cert_chain(str(pki.admin.cert), str(pki.admin.key))
        self._session = aiohttp.ClientSession(
            base_url=cluster.server,
            connector=aiohttp.TCPConnector(ssl=context, limit=20),
            raise_for_status=False,
        )

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Json | None = None,
        content_type: str = "",
    ) -> Json:
        headers = {"Content-Type": content_type or "application/json", "Accept": "application/json"}
        data = None if body is None else json.dumps(body)
        timeout = aiohttp.ClientTimeout(total=30)
        async with self._session.request(
            method, path, params=params, data=data, headers=headers, timeout=timeout
        ) as resp:
            text = await resp.text()
            if resp.status >= 300:
                raise ApiError(resp.status, text)
            result: Json = json.loads(text) if text else {}
            return result

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[Json]:
        """Yield watch events until the server closes the stream."""
        query = {**params, "watch": "1", "allowWatchBookmarks": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=330)
        async with self._session.get(path, params=query, timeout=timeout) as resp:
            if resp.status >= 300:
                raise ApiError(resp.status, await resp.text())
            async for line in resp.content:
                if line.strip():
                    event: Json = json.loads(line)
                    yield event
