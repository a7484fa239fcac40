"""Kubelet-style Events (Started, Killing, BackOff, Unhealthy, Failed, ...).

Repeats of the same event for the same object within a minute are dropped, so a
crash-looping pod or a failing probe does not flood the apiserver.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import aiohttp

from localkube.agent.api import ApiError, KubeApi
from localkube.agent.podstatus import rfc3339

Json = dict[str, Any]
log = logging.getLogger(__name__)
REPEAT_SECONDS = 60.0


class EventRecorder:
    def __init__(self, api: KubeApi, *, node: str) -> None:
        self._api = api
        self._node = node
        self._recent: dict[tuple[str, str, str], float] = {}

    async def emit(
        self, obj: Json, *, reason: str, message: str, warning: bool = False, field: str = ""
    ) -> None:
        meta = obj["metadata"]
        key = (meta.get("uid", ""), reason, message)
        now = time.time()
        if now - self._recent.get(key, 0.0) < REPEAT_SECONDS:
            return
        self._recent[key] = now
        if len(self._recent) > 5000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < REPEAT_SECONDS}
        ns = meta.get("namespace") or "default"
        ref = {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Pod"),
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
        }
        if field:
            ref["fieldPath"] = field
        event = {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": "kubelet", "host": self._node},
            "reportingComponent": "kubelet",
            "reportingInstance": self._node,
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "count": 1,
        }
        try:
            await self._api.request("POST", f"/api/v1/namespaces/{ns}/events", body=event)
        except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as err:
            log.debug("Dropped event %s for %s: %s", reason, meta["name"], err)
