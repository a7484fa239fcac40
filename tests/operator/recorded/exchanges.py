"""Recorded API exchanges: what the real apiserver answered to the operator's own requests.

``record.py`` runs the operator's edge (``k8s.gather.observe``, ``KubeApi``, a status
patch) against a local cluster through :class:`Recording`, which keeps every request and
its answer. The tests replay them through :class:`Replay`, the real ``ApiClient`` with
only its one network call answered from the file, so ``Rest``'s URL building, decoding and
error mapping and everything above it run as in production, with no cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes import client
from kubernetes.client.rest import RESTResponse

from modelpipe.k8s.rest import Rest

HERE = Path(__file__).parent
Exchange = dict[str, Any]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _strip(document: Any) -> Any:
    """Drop managedFields: bulky server bookkeeping that no reader of ours looks at."""
    if isinstance(document, dict):
        (document.get("metadata") or {}).pop("managedFields", None)
        for value in document.values():
            _strip(value)
    elif isinstance(document, list):
        for value in document:
            _strip(value)
    return document


class Recording(Rest):
    """The real Rest, keeping every exchange (path, request body, status, answer)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        super().__init__(api_client)
        self.exchanges: list[Exchange] = []

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: Any
    ) -> tuple[int, bytes, str | None]:
        status, data, retry_after = super()._send(method, url, headers, body)
        answer = json.loads(data) if data else None
        self.exchanges.append(
            {
                "method": method,
                "path": _path(url),
                "contentType": headers.get("Content-Type"),
                "body": body,
                "status": status,
                "answer": _strip(answer),
            }
        )
        return status, data, retry_after


def save(name: str, exchanges: Iterable[Exchange], **extra: Any) -> None:
    document = {**extra, "exchanges": list(exchanges)}
    (HERE / f"{name}.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return document


class Replay(client.ApiClient):
    """The real ApiClient; its network call answers from recorded exchanges, in order
    per request, and fails on a request that was not recorded."""

    def __init__(self, exchanges: list[Exchange]) -> None:
        configuration = client.Configuration()
        configuration.host = "https://127.0.0.1:6443"
        super().__init__(configuration)
        self.pending = list(exchanges)
        self.sent: list[tuple[str, str, Any]] = []

    def call_api(  # type: ignore[override]
        self, method: str, url: str, header_params: Any = None, body: Any = None, **_: Any
    ) -> RESTResponse:
        path = _path(url)
        self.sent.append((method, path, body))
        for index, exchange in enumerate(self.pending):
            if (exchange["method"], exchange["path"]) == (method, path):
                del self.pending[index]
                break
        else:
            raise AssertionError(f"no recorded answer for {method} {path}")
        raw = urllib3.HTTPResponse(
            body=json.dumps(exchange["answer"]).encode() if exchange["answer"] else b"",
            status=exchange["status"],
            headers={"Content-Type": "application/json"},
            preload_content=False,
        )
        return RESTResponse(raw)


def replay(exchanges: list[Exchange]) -> tuple[Replay, Rest]:
    api = Replay(exchanges)
    return api, Rest(api, sleep=lambda _: None)
