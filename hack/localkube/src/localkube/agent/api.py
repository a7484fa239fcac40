"""The agent's REST client: the only module that talks to the apiserver.

Hand-written on aiohttp instead of a generated client: the agent needs a dozen
calls, and one session with one connection pool keeps its memory small.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from localkube.agent.config import ApiAccess

Json = dict[str, Any]
log = logging.getLogger(__name__)

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class KubeApi:
    """A small asyncio client for the handful of calls a kubelet makes."""

    def __init__(self, access: ApiAccess) -> None:
        self._access = access
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            conn = aiohttp.TCPConnector(ssl=self._access.ssl_context(), limit=20)
            self._session = aiohttp.ClientSession(
                base_url=self._access.server, connector=conn, raise_for_status=False
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Json | None = None,
        content_type: str = "application/json",
        timeout: float = 30,  # noqa: ASYNC109 (a per-request HTTP timeout, passed to aiohttp)
    ) -> Json:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        async with self._http().request(
            method,
            path,
            params=params,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            text = await resp.text()
            if resp.status >= 300:
                raise ApiError(resp.status, text)
            result: Json = json.loads(text) if text else {}
            return result

    async def get_or_none(self, path: str) -> Json | None:
        try:
            return await self.request("GET", path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[Json]:
        """Yield watch events until the server closes the stream."""
        query = {**params, "watch": "1", "allowWatchBookmarks": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=330)
        async with self._http().get(path, params=query, timeout=timeout) as resp:
            if resp.status >= 300:
                raise ApiError(resp.status, await resp.text())
            async for line in resp.content:
                if line.strip():
                    event: Json = json.loads(line)
                    yield event

    # Typed helpers for the calls the agent makes.

    async def patch_pod_status(self, ns: str, name: str, status: Json) -> Json:
        return await self.request(
            "PATCH", f"{pod_path(ns, name)}/status", body={"status": status}, content_type=SMP
        )

    async def delete_pod_final(self, ns: str, name: str, uid: str) -> None:
        """The kubelet's last word: remove the pod object now that nothing runs."""
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            await self.request("DELETE", pod_path(ns, name), body=body)
        except ApiError as err:
            if err.status not in (404, 409):
                raise

    async def token_request(
        self, *, ns: str, sa: str, pod: Json, audience: str | None, seconds: int
    ) -> Json:
        spec: Json = {
            "expirationSeconds": seconds,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }
        if audience:
            spec["audiences"] = [audience]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        path = f"/api/v1/namespaces/{quote(ns)}/serviceaccounts/{quote(sa)}/token"
        return await self.request("POST", path, body=body)


def pod_path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(ns)}/pods/{quote(name)}"


async def retrying(what: str, coro_fn: Any, *, attempts: int = 5) -> Any:
    """Call ``coro_fn()`` with a short back-off on connection errors and 5xx.

    Used for writes the agent must not lose (status, final delete), so a blip of the
    apiserver does not leave a pod stuck.
    """
    for attempt in range(attempts):
        try:
            return await coro_fn()
        except (TimeoutError, aiohttp.ClientError) as err:
            problem: Exception = err
        except ApiError as err:
            if err.status < 500 and err.status != 429:
                raise
            problem = err
        log.warning("Retrying %s after %s (attempt %d)", what, problem, attempt + 1)
        await asyncio.sleep(0.2 * 2**attempt)
    return await coro_fn()
