"""The agent process: register the Node, watch its pods, run one worker per pod.

Restart safety: everything about a pod lives in ``<state dir>/pods/<uid>/`` (its IP
in ``pod.json``, its runs under ``containers/``). A restarted agent lists the pods
bound to its node, adopts the still-running shims and settles runs that ended while
it was away from their exit records; pod directories whose pod no longer exists are
stopped and removed.

SIGTERM means "node shutdown" (``localkube down``): the agent stops every container
(short grace) and exits. SIGKILL leaves the shims running, to be adopted later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import signal
from pathlib import Path
from typing import Any

import aiohttp

from localkube.agent import runtime
from localkube.agent.api import ApiError, KubeApi
from localkube.agent.config import AgentConfig, parse_args
from localkube.agent.containerspec import real_interpreter
from localkube.agent.context import Context
from localkube.agent.events import EventRecorder
from localkube.agent.ipam import next_free_ip
from localkube.agent.node import NodeKeeper
from localkube.agent.podworker import PodWorker
from localkube.agent.server import LogServer

Json = dict[str, Any]
log = logging.getLogger("localkube.agent")
SHUTDOWN_GRACE = 5.0


class Agent:
    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.api = KubeApi(cfg.api)
        self.workers: dict[str, PodWorker] = {}
        self.stopping = asyncio.Event()
        self.forgetting: set[asyncio.Task[None]] = set()

    @property
    def selector(self) -> dict[str, str]:
        return {"fieldSelector": f"spec.nodeName={self.cfg.node_name}"}

    def pod_dir(self, ns: str, name: str) -> Path | None:
        for w in self.workers.values():
            if (w.ns, w.name) == (ns, name):
                return w.dir
        return None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        async with aiohttp.ClientSession() as http:
            self.ctx = Context(
                cfg=self.cfg,
                api=self.api,
                events=EventRecorder(self.api, node=self.cfg.node_name),
                http=http,
                interpreter=real_interpreter(self.cfg.venv_bin),
            )
            self.ctx.pods_dir.mkdir(parents=True, exist_ok=True)
            node = NodeKeeper(
                self.api,
                name=self.cfg.node_name,
                port=self.cfg.kubelet_port,
                capacity=self.ctx.node_capacity,
                host_ip=self.ctx.host_ip,
            )
            await self._until_ok("node registration", node.register)
            server = LogServer(
                self.pod_dir,
                cert=self.cfg.tls_cert,
                key=self.cfg.tls_key,
                client_ca=self.cfg.client_ca,
            )
            await server.start(self.cfg.kubelet_port)
            log.info(
                "Started node agent for %s; kubelet port %d",
                self.cfg.node_name,
                self.cfg.kubelet_port,
            )
            tasks = [asyncio.create_task(node.run()), asyncio.create_task(self._watch_pods())]
            await self.stopping.wait()
            for t in tasks:
                t.cancel()
            await self._shutdown()
            await server.stop()
        await self.api.close()

    async def _until_ok(self, what: str, fn: Any) -> None:
        delay = 0.2
        while True:
            try:
                await fn()
                return
            except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as err:
                log.warning("Retrying %s: %s", what, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _shutdown(self) -> None:
        """Node shutdown: stop every container, leave the API objects alone."""
        for w in self.workers.values():
            w.halt()  # first, so that no worker restarts what is being stopped
        stops = [
            w.runner.stop(n, grace=SHUTDOWN_GRACE, reason="Node shutdown")
            for w in self.workers.values()
            for n in list(w.runner.live)
        ]
        await asyncio.gather(*stops, return_exceptions=True)
        for w in self.workers.values():
            w.runner.detach()
        log.info("Stopped node agent for %s", self.cfg.node_name)

    # ----- the pod watch ---------------------------------------------------------
    async def _watch_pods(self) -> None:
        first = True
        while True:
            try:
                listing = await self.api.request("GET", "/api/v1/pods", params=self.selector)
                rv = listing["metadata"]["resourceVersion"]
                await self._reconcile(listing.get("items", []), sweep_disk=first)
                first = False
                async for event in self.api.watch(
                    "/api/v1/pods", {**self.selector, "resourceVersion": rv}
                ):
                    if event["type"] == "ERROR":
                        break
                    if event["type"] != "BOOKMARK":
                        await self._on_event(event["type"], event["object"])
            except (TimeoutError, ApiError, OSError, aiohttp.ClientError, ValueError) as err:
                log.warning("Pod watch interrupted: %s", err)
                await asyncio.sleep(1.0)
            except Exception:  # keep watching whatever one event did
                log.exception("Pod watch failed unexpectedly; relisting")
                await asyncio.sleep(1.0)

    async def _reconcile(self, pods: list[Json], *, sweep_disk: bool) -> None:
        seen = {p["metadata"]["uid"] for p in pods}
        for pod in pods:
            await self._on_event("MODIFIED", pod)
        for uid in [u for u in self.workers if u not in seen]:
            await self._forget(uid)
        if sweep_disk and self.ctx.pods_dir.is_dir():
            for stale in (d for d in self.ctx.pods_dir.iterdir() if d.name not in seen):
                _kill_pod_dir(stale)

    async def _on_event(self, kind: str, pod: Json) -> None:
        uid = pod["metadata"]["uid"]
        if kind == "DELETED":
            await self._forget(uid)
            return
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        worker = PodWorker(self.ctx, pod, ip=self._ip_for(pod))
        self.workers[uid] = worker
        worker.start()

    async def _forget(self, uid: str) -> None:
        worker = self.workers.pop(uid, None)
        if worker is not None:
            task = asyncio.create_task(worker.forget())
            self.forgetting.add(task)
            task.add_done_callback(self.forgetting.discard)

    def _ip_for(self, pod: Json) -> str:
        """The pod's IP: kept from an earlier life of this agent, else the next free one."""
        uid = pod["metadata"]["uid"]
        record = self.ctx.pods_dir / uid / "pod.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            return str(json.loads(record.read_text())["ip"])
        used = {w.ip for w in self.workers.values()} | _ips_on_disk(self.ctx.pods_dir)
        ip = next_free_ip(self.cfg.ip_prefix, used, hint=len(used) + 2)
        if ip is None:
            raise RuntimeError(f"no free pod IP left under {self.cfg.ip_prefix}")
        record.parent.mkdir(parents=True, exist_ok=True)
        meta = pod["metadata"]
        record.write_text(
            json.dumps({"ip": ip, "namespace": meta["namespace"], "name": meta["name"], "uid": uid})
        )
        return ip


def _ips_on_disk(pods_dir: Path) -> set[str]:
    ips = set()
    for record in pods_dir.glob("*/pod.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            ips.add(str(json.loads(record.read_text())["ip"]))
    return ips


def _kill_pod_dir(pod_dir: Path) -> None:
    """A pod that no longer exists: kill whatever still runs, then drop its files."""
    for name in runtime.container_names(pod_dir):
        for index in runtime.run_indexes(pod_dir, name):
            runtime.signal_run(runtime.container_dir(pod_dir, name) / str(index), signal.SIGKILL)
    shutil.rmtree(pod_dir, ignore_errors=True)
    log.info("Removed leftovers of deleted pod %s", pod_dir.name)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(Agent(cfg).run())
    return 0
