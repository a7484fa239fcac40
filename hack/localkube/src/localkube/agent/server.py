"""The kubelet's HTTPS endpoint, as much of it as ``kubectl logs`` needs.

The apiserver proxies ``kubectl logs`` to ``https://<InternalIP>:<kubeletEndpoint.Port>
/containerLogs/<ns>/<pod>/<container>`` with its kubelet client certificate. Any
client certificate signed by the cluster CA is accepted: the CA only signs the
cluster's own components and admins (there is no SubjectAccessReview round trip).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web

from localkube.agent import crilog, runtime

FOLLOW_POLL = 0.2
PodDirLookup = Callable[[str, str], Path | None]


def _since(query: dict[str, str]) -> str | None:
    if "sinceSeconds" in query:
        return crilog.timestamp(time.time() - int(query["sinceSeconds"]))
    if "sinceTime" in query:
        when = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
        return crilog.timestamp(when.timestamp())
    return None


def pick_run(pod_dir: Path, container: str, *, previous: bool) -> Path | str:
    """The run whose log to show, or the kubelet's error text."""
    indexes = runtime.run_indexes(pod_dir, container)
    started = [
        i
        for i in indexes
        if (runtime.container_dir(pod_dir, container) / str(i) / "started.json").exists()
    ]
    if previous:
        if len(started) < 2:
            return f'previous terminated container "{container}" in pod "{pod_dir.name}" not found'
        return runtime.container_dir(pod_dir, container) / str(started[-2])
    if not started:
        waiting = "is waiting to start: ContainerCreating"
        return f'container "{container}" in pod "{pod_dir.name}" {waiting}'
    return runtime.container_dir(pod_dir, container) / str(started[-1])


class LogServer:
    def __init__(self, lookup: PodDirLookup, *, cert: Path, key: Path, client_ca: Path) -> None:
        self.lookup = lookup
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
        self.ssl.load_cert_chain(str(cert), str(key))
        self.ssl.verify_mode = ssl.CERT_REQUIRED
        self.app = web.Application()
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self.logs)
        self.runner = web.AppRunner(self.app, access_log=None)

    async def start(self, port: int) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port, ssl_context=self.ssl)
        await site.start()

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        q = dict(request.query)
        pod_dir = self.lookup(ns, pod)
        if pod_dir is None:
            raise web.HTTPNotFound(text=f'pod "{pod}" in namespace "{ns}" is not on this node')
        run = pick_run(pod_dir, container, previous=q.get("previous") == "true")
        if isinstance(run, str):
            raise web.HTTPBadRequest(text=run)
        opts = {
            "timestamps": q.get("timestamps") == "true",
            "tail_lines": int(q["tailLines"]) if "tailLines" in q else None,
            "since": _since(q),
        }
        limit = int(q["limitBytes"]) if "limitBytes" in q else None
        body = crilog.render(runtime.read_log(run), **opts)  # type: ignore[arg-type]
        if q.get("follow") != "true":
            return web.Response(
                body=body[:limit] if limit is not None else body, content_type="text/plain"
            )
        return await self._follow(
            request, run, body, limit=limit, timestamps=bool(opts["timestamps"])
        )

    async def _follow(
        self, request: web.Request, run: Path, first: bytes, *, limit: int | None, timestamps: bool
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        sent = 0
        log = run / "container.log"
        offset = log.stat().st_size if log.exists() else 0
        chunk = first
        while True:
            if limit is not None:
                chunk = chunk[: max(0, limit - sent)]
            if chunk:
                await resp.write(chunk)
                sent += len(chunk)
            if limit is not None and sent >= limit:
                break
            done = (run / "exit.json").exists()
            await asyncio.sleep(FOLLOW_POLL)
            data = b""
            if log.exists():
                with log.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
            complete = data[: data.rfind(b"\n") + 1]
            offset += len(complete)
            chunk = crilog.render(
                crilog.parse(complete.splitlines(keepends=True)), timestamps=timestamps
            )
            if done and not chunk:
                break
        await resp.write_eof()
        return resp
