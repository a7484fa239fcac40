"""A small JSON-over-HTTP client on top of the kubernetes package's transport and auth.

The generated typed API of the kubernetes package validates bodies as its own models;
the operator builds plain dicts (manifests, patches), so it sends them as JSON here,
with the content type each call needs. Every request has a timeout, and an answer of 429
or 5xx is sent again with backoff, jitter and the server's Retry-After, within bounds
(:mod:`modelpipe.k8s.backoff`).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config import kube_config

from modelpipe.k8s.backoff import RetryPolicy, parse_retry_after, retry_delay
from modelpipe.k8s.systemclock import SYSTEM_CLOCK
from modelpipe.planning.clock import Clock

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
TIMEOUT_SECONDS = 30.0


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP status, ``reason`` Kubernetes' reason word."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


def use_kubeconfig(path: Path) -> None:
    """Make ``path`` the kubeconfig for everyone in this process, kopf's login included.

    The kubernetes package reads $KUBECONFIG once, at import, into its default location.
    """
    os.environ["KUBECONFIG"] = str(path)
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(path)


def connect(kubeconfig: Path | None = None, *, pool_size: int = 32) -> client.ApiClient:
    """An authenticated ApiClient: the given kubeconfig, $KUBECONFIG, or in-cluster.

    ``pool_size`` keeps one connection per handler thread (the library's default is
    5 per CPU; beyond it urllib3 opens, warns about and throws away extra connections).
    """
    path = kubeconfig or (Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None)
    configuration = client.Configuration()
    configuration.connection_pool_maxsize = pool_size
    if path is not None or Path("~/.kube/config").expanduser().exists():
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(path) if path else None, client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)


DEFAULT_RETRY = RetryPolicy()


class Rest:
    """Requests as JSON; ``sleep``, ``draw`` and ``clock`` are injectable for tests.

    ``on_retry(method, status)`` is told of every answer that is sent again (metrics).
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        clock: Clock = SYSTEM_CLOCK,
        on_retry: Callable[[str, int], None] | None = None,
    ) -> None:
        self._client = api_client
        self._policy, self._sleep, self._draw, self._clock = policy, sleep, draw, clock
        self._on_retry = on_retry

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON | None:
        """Send one request; ``None`` for 404, :class:`ApiError` for other failures."""
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        method, url, headers, body, _ = self._client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        attempt, waited = 1, 0.0
        while True:
            status, data, retry_after = self._send(method, url, headers, body)
            delay = retry_delay(
                self._policy,
                attempt=attempt,
                status=status,
                retry_after=parse_retry_after(retry_after, now=self._clock.now()),
                waited=waited,
                draw=self._draw(),
            )
            if delay is None:
                break
            if self._on_retry is not None:
                self._on_retry(method, status)
            self._sleep(delay)
            attempt, waited = attempt + 1, waited + delay
        if status == 404 and method in ("GET", "DELETE"):
            return None
        document = _decode(data)
        if status >= 400:
            raise ApiError(
                status, str(document.get("reason", "")), str(document.get("message", ""))
            )
        return document

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: Any
    ) -> tuple[int, bytes, str | None]:
        """The only I/O: one HTTP exchange; (status, body, Retry-After header)."""
        try:
            response = self._client.call_api(
                method,
                url,
                header_params=dict(headers),
                body=body,
                _request_timeout=TIMEOUT_SECONDS,
            )
            data = response.read()  # type: ignore[no-untyped-call]
            status, found = int(response.status), response.headers
        except ApiException as error:
            data, status, found = (error.body or b""), int(error.status or 0), error.headers
        return status, data or b"", (found or {}).get("Retry-After")

    def list_items(self, path: str, *, selector: str) -> list[JSON]:
        found = self.request("GET", path, query={"labelSelector": selector}) or {}
        return cast(list[JSON], found.get("items") or [])


def _decode(data: bytes | str | None) -> JSON:
    if not data:
        return {}
    try:
        document = json.loads(data)
    except ValueError:
        return {"message": str(data)[:500]}
    return document if isinstance(document, dict) else {}
