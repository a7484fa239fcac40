"""One asyncio task per pod: gather -> decide -> act, until the pod is gone.

Each pass observes the runs (:class:`~localkube.agent.podrun.ContainerRunner`),
asks :func:`~localkube.agent.lifecycle.plan_pod` what to do, starts what it says and
patches the status built by :mod:`localkube.agent.podstatus`. A pass is triggered
by a pod update, a container exit, a probe flip, a back-off deadline, a token
refresh or, at the latest, every ``RESYNC`` seconds.

Deletion: SIGTERM to every running container's process group, the grace period,
SIGKILL, a last status, then ``DELETE`` with ``gracePeriodSeconds=0`` and the pod's
uid as precondition. Finalizers (e.g. the Job controller's tracking finalizer) are
left to their owners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from localkube.agent import containerspec
from localkube.agent.api import ApiError, retrying
from localkube.agent.context import Context
from localkube.agent.envvars import Blocked, Objects, referenced_names
from localkube.agent.lifecycle import (
    ContainerView,
    Plan,
    PodView,
    plan_pod,
    terminal_phase_after_kill,
)
from localkube.agent.mountplan import UNSUPPORTED_REASON, VolumeSource, plan_volumes, subpath_dirs
from localkube.agent.podrun import ContainerRunner
from localkube.agent.podstatus import build_status
from localkube.agent.volumepods import prepare_pod_volumes

Json = dict[str, Any]
log = logging.getLogger(__name__)
RESYNC = 10.0
BLOCKED_RETRY = 3.0
TERMINAL = ("Succeeded", "Failed")
POD_FAILURES = (UNSUPPORTED_REASON, containerspec.UNSUPPORTED_FEATURE)  # fail, do not retry


class PodWorker:
    def __init__(self, ctx: Context, pod: Json, *, ip: str) -> None:
        self.ctx = ctx
        self.pod = pod
        self.ip = ip
        meta = pod["metadata"]
        self.uid, self.ns, self.name = meta["uid"], meta["namespace"], meta["name"]
        self.dir: Path = ctx.pods_dir / self.uid
        self._wake = asyncio.Event()
        self.runner = ContainerRunner(ctx, pod, self.dir, self._wake.set)
        self.volumes: dict[str, VolumeSource] | None = None
        self.volume_block: Blocked | None = None
        self.token_refresh_at = float("inf")
        self.blocked: dict[str, tuple[Blocked, float]] = {}
        self.last_status: Json | None = None
        self.start_time = time.time()
        self.gone = False
        self.task: asyncio.Task[None] | None = None

    # ----- driven by the agent -----------------------------------------------
    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"pod {self.ns}/{self.name}")

    def update(self, pod: Json) -> None:
        self.pod = pod
        self.runner.pod = pod
        self._wake.set()

    async def forget(self) -> None:
        """The pod object is gone: stop everything still running and remove its files."""
        self.gone = True
        self._wake.set()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        await self._stop_all(grace=2.0)
        shutil.rmtree(self.dir, ignore_errors=True)

    def halt(self) -> None:
        """Stop deciding (agent shutdown); running containers are left to the caller."""
        if self.task is not None:
            self.task.cancel()

    @property
    def phase(self) -> str:
        return str((self.pod.get("status") or {}).get("phase") or "Pending")

    # ----- the loop --------------------------------------------------------------
    async def _run(self) -> None:
        self.runner.adopt()
        while not self.gone:
            self._wake.clear()
            wake_at: float | None = None
            try:
                if self.pod["metadata"].get("deletionTimestamp"):
                    await self._terminate()
                else:
                    wake_at = await self._sync_once()
            except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as err:
                log.warning("Sync of pod %s/%s failed: %s", self.ns, self.name, err)
                wake_at = time.time() + BLOCKED_RETRY
            except Exception:  # one odd pod must not stop the agent managing it
                log.exception("Sync of pod %s/%s failed unexpectedly", self.ns, self.name)
                wake_at = time.time() + BLOCKED_RETRY
            timeout = RESYNC if wake_at is None else max(0.0, min(RESYNC, wake_at - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _view(self) -> PodView:
        spec = self.pod.get("spec", {})
        now = time.time()

        def one(c: Json) -> ContainerView:
            v = self.runner.view(c["name"])
            block = self.blocked.get(c["name"])
            return replace(v, blocked=block[0]) if block and block[1] > now else v

        return PodView(
            restart_policy=spec.get("restartPolicy", "Always"),
            init=tuple(one(c) for c in spec.get("initContainers") or []),
            main=tuple(one(c) for c in spec.get("containers") or []),
            blocked=self.volume_block,
        )

    async def _sync_once(self) -> float | None:
        if self.volumes is None or self.token_refresh_at <= time.time():
            await self._prepare_volumes()
        view = self._view()
        plan = self._decide(view)
        if plan.start:
            for name in plan.start:
                await self._start_container(name, view)
            view = self._view()
            plan = self._decide(view, starting=False)
        await self._report_waiting(plan)
        await self._push_status(view, plan)
        wake = [t for t in (plan.wake_at, self.token_refresh_at) if t is not None]
        if any(b[1] > time.time() for b in self.blocked.values()):
            wake.append(time.time() + BLOCKED_RETRY)
        return min(wake) if wake else None

    def _decide(self, view: PodView, *, starting: bool = True) -> Plan:
        if self.volume_block is not None and self.volume_block.reason in POD_FAILURES:
            names = [c.name for c in (*view.init, *view.main)]
            block = self.volume_block
            return Plan(waiting=dict.fromkeys(names, block), phase="Failed", failed=block)
        plan = plan_pod(view, now=time.time(), pod_name=f"{self.name}_{self.ns}({self.uid})")
        if self.phase in TERMINAL or not starting:
            plan = Plan(
                waiting=plan.waiting,
                phase=self.phase if self.phase in TERMINAL else plan.phase,
                initialized=plan.initialized,
                wake_at=plan.wake_at,
                failed=plan.failed,
            )
        return plan

    # ----- acting ----------------------------------------------------------------
    async def _objects(self) -> Objects:
        cm_names, secret_names = referenced_names(self.pod)
        base = f"/api/v1/namespaces/{self.ns}"
        cms = {n: await self.ctx.api.get_or_none(f"{base}/configmaps/{n}") for n in cm_names}
        secrets = {n: await self.ctx.api.get_or_none(f"{base}/secrets/{n}") for n in secret_names}
        return Objects(configmaps=cms, secrets=secrets)

    async def _prepare_volumes(self) -> None:
        unsupported = containerspec.unsupported_feature(self.pod)
        if unsupported is not None:
            self.volume_block = unsupported
            return
        plan = plan_volumes(self.pod, pod_dir=self.dir, state_dir=self.ctx.cfg.state_dir)
        if isinstance(plan, Blocked):
            self.volume_block = plan
            return
        result = await prepare_pod_volumes(self.ctx, self.pod, plan, await self._objects())
        if isinstance(result, Blocked):
            self.volume_block = result
            self.token_refresh_at = time.time() + BLOCKED_RETRY
            await self.ctx.events.emit(
                self.pod, reason="FailedMount", message=result.message, warning=True
            )
            return
        self.volume_block = None
        self.volumes = plan
        self.token_refresh_at = result

    async def _start_container(self, name: str, view: PodView) -> None:
        spec = self.pod["spec"]
        container = next(
            c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == name
        )
        who = containerspec.identity(self.pod, container)
        index = next(c.runs for c in (*view.init, *view.main) if c.name == name)
        run_spec: Json | Blocked = who if isinstance(who, Blocked) else {}
        if not isinstance(who, Blocked):
            inputs = containerspec.SpecInputs(
                pod={**self.pod, "status": {**self.pod.get("status", {}), "podIP": self.ip}},
                objects=await self._objects(),
                volumes=self.volumes or {},
                base=containerspec.base_env(
                    self.pod,
                    venv_bin=self.ctx.cfg.venv_bin,
                    api_host=self.ctx.cfg.api.host,
                    api_port=self.ctx.cfg.api.port,
                    host_env=os.environ,
                    uid=who.uid,
                ),
                node_capacity=self.ctx.node_capacity,
                default_cwd=self.dir / "workdir",
                run_dir=self.dir / "containers" / name / str(index),
                traversable=(self.ctx.interpreter,),
                # The project (venv + editable sources) read-only, then the workdir.
                keep_visible=(
                    (self.ctx.cfg.venv_bin.parent.parent, True),
                    (self.dir / "workdir", False),
                ),
            )
            (self.dir / "workdir").mkdir(parents=True, exist_ok=True, mode=0o777)
            for sub in subpath_dirs(container, self.volumes or {}):
                sub.mkdir(parents=True, exist_ok=True, mode=0o777)
            run_spec = containerspec.run_spec(container, who, inputs)
        if isinstance(run_spec, Blocked):
            self.blocked[name] = (run_spec, time.time() + BLOCKED_RETRY)
            msg = f"Error: {run_spec.message}"
            await self.ctx.events.emit(self.pod, reason="Failed", message=msg, warning=True)
            return
        self.blocked.pop(name, None)
        self.runner.start(name, index, run_spec)
        log.info("Started container %s of pod %s/%s (run %d)", name, self.ns, self.name, index)
        await self.ctx.events.emit(self.pod, reason="Started", message=f"Started container {name}")

    async def _report_waiting(self, plan: Plan) -> None:
        for name, why in plan.waiting.items():
            if why.reason == "CrashLoopBackOff":
                pod = f"{self.name}_{self.ns}({self.uid})"
                msg = f"Back-off restarting failed container {name} in pod {pod}"
                await self.ctx.events.emit(self.pod, reason="BackOff", message=msg, warning=True)

    async def _push_status(self, view: PodView, plan: Plan) -> None:
        status = build_status(
            self.pod,
            view,
            plan,
            phase=plan.phase,
            pod_ip=self.ip,
            host_ip=self.ctx.host_ip,
            start_time=self.start_time,
            now=time.time(),
        )
        if status == self.last_status:
            return

        async def patch() -> Json:
            return await self.ctx.api.patch_pod_status(self.ns, self.name, status)

        try:
            updated = await retrying(f"status of {self.ns}/{self.name}", patch)
        except ApiError as err:
            if err.status == 404:
                return
            raise
        self.last_status = status
        if updated.get("metadata", {}).get("uid") == self.uid:
            self.update(updated)
            self._wake.clear()

    async def _stop_all(self, *, grace: float) -> None:
        names = list(self.runner.live)
        await asyncio.gather(
            *(self.runner.stop(n, grace=grace, reason=f"Stopping container {n}") for n in names)
        )

    async def _terminate(self) -> None:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        await self._stop_all(grace=float(grace))
        view = self._view()
        plan = self._decide(view, starting=False)
        if self.phase not in TERMINAL:
            plan = Plan(
                waiting={}, phase=terminal_phase_after_kill(view), initialized=plan.initialized
            )
        await self._push_status(view, plan)
        await retrying(
            f"delete of {self.ns}/{self.name}",
            lambda: self.ctx.api.delete_pod_final(self.ns, self.name, self.uid),
        )
        while not self.gone:  # wait for the watch to report the object gone
            self._wake.clear()
            await self._wake.wait()
