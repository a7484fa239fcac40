"""The live side of one pod's containers: start, adopt, probe and stop their runs.

A :class:`ContainerRunner` knows which runs are alive (by their shims) and what the
probes currently say; the pod worker asks it to act and reads it back into a
:class:`~localkube.agent.lifecycle.PodView`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localkube.agent import runtime
from localkube.agent.context import Context
from localkube.agent.lifecycle import ContainerView, Exited
from localkube.agent.probes import run_probe
from localkube.agent.probestate import ProbeSpec, ProbeState, container_probes, record
from localkube.agent.shim import write_json

Json = dict[str, Any]
log = logging.getLogger(__name__)
SHIM_START_WAIT = 5.0


@dataclass
class Live:
    """A run whose shim is alive."""

    index: int
    run: Path
    since: float
    env: dict[str, str]
    watch: runtime.ExitWatch | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    running: bool = False  # the process has started (started.json written)
    probes: list[asyncio.Task[None]] = field(default_factory=list)


def finalize_lost(run: Path) -> None:
    """A shim died without an exit record: kill what it left and record the loss."""
    runtime.signal_run(run, signal.SIGKILL)
    started = runtime.started_at(run) or time.time()
    lost = runtime.LOST
    write_json(
        run / "exit.json",
        {
            "exitCode": lost.exit_code,
            "reason": lost.reason,
            "message": lost.message,
            "startedAt": started,
            "finishedAt": time.time(),
        },
    )


class ContainerRunner:
    def __init__(self, ctx: Context, pod: Json, pod_dir: Path, wake: Callable[[], None]) -> None:
        self.ctx = ctx
        self.pod = pod
        self.pod_dir = pod_dir
        self.wake = wake
        self.live: dict[str, Live] = {}
        self.ready: dict[str, bool] = {}
        self.started: dict[str, bool] = {}
        self._exits: dict[Path, Exited] = {}

    # ----- reading ------------------------------------------------------------
    def _spec(self, name: str) -> Json:
        spec = self.pod.get("spec", {})
        for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            if c["name"] == name:
                return dict(c)
        raise KeyError(name)

    def exit_of(self, name: str, index: int) -> Exited | None:
        if index < 0:
            return None
        run = runtime.container_dir(self.pod_dir, name) / str(index)
        if run in self._exits:
            return self._exits[run]
        if not (run / "exit.json").exists():
            return None
        policy = self._spec(name).get("terminationMessagePolicy")
        exited = runtime.read_exit(run, fallback_to_logs=policy == "FallbackToLogsOnError")
        self._exits[run] = exited
        return exited

    def view(self, name: str) -> ContainerView:
        """The container as the lifecycle rules see it."""
        live = self.live.get(name)
        if live is not None:
            return ContainerView(
                name=name,
                runs=live.index + 1,
                running_since=live.since if live.running else None,
                creating=not live.running,
                previous=self.exit_of(name, live.index - 1),
                ready=self.ready.get(name, False),
                started=self.started.get(name, False),
            )
        indexes = runtime.run_indexes(self.pod_dir, name)
        if not indexes:
            return ContainerView(name=name)
        latest = indexes[-1]
        runs = latest + 1 if self.exit_of(name, latest) is not None else latest
        return ContainerView(
            name=name,
            runs=runs,
            last=self.exit_of(name, runs - 1),
            previous=self.exit_of(name, runs - 2),
        )

    # ----- acting -------------------------------------------------------------
    def adopt(self) -> None:
        """After an agent restart: re-attach to live shims, settle lost runs."""
        for name in runtime.container_names(self.pod_dir):
            indexes = runtime.run_indexes(self.pod_dir, name)
            if not indexes:
                continue
            run = runtime.container_dir(self.pod_dir, name) / str(indexes[-1])
            state = runtime.run_state(run)
            if state is runtime.RunState.LOST:
                finalize_lost(run)
            elif state is runtime.RunState.RUNNING:
                self._attach(name, indexes[-1], run, pid=None)
                log.info("Adopted container %s/%s run %d", self.pod_dir.name, name, indexes[-1])

    def start(self, name: str, index: int, spec: Json) -> None:
        run = runtime.new_run(self.pod_dir, name, index, spec)
        pid = runtime.spawn_shim(run)
        self._attach(name, index, run, pid=pid)

    def _attach(self, name: str, index: int, run: Path, *, pid: int | None) -> None:
        spec = json.loads((run / "spec.json").read_text())
        since = runtime.started_at(run)
        live = Live(index=index, run=run, since=since or 0.0, env=spec["env"], running=bool(since))
        self.live[name] = live
        self.ready[name] = False
        probes = container_probes(self._spec(name))
        self.started[name] = not any(p.kind == "startup" for p in probes)
        if not any(p.kind == "readiness" for p in probes):
            self.ready[name] = True
        shim = pid if pid is not None else runtime.shim_pid(run)
        if shim is None:  # the shim is still writing its record
            live.probes.append(asyncio.create_task(self._attach_late(name, live)))
        else:
            self._watch(name, live, shim)
        if not live.running:
            live.probes.append(asyncio.create_task(self._await_started(live)))
        live.probes.extend(asyncio.create_task(self._probe_loop(name, p, live)) for p in probes)

    async def _await_started(self, live: Live) -> None:
        """Report Running only once the shim has really started the process."""
        deadline = time.monotonic() + SHIM_START_WAIT * 6
        while not live.done.is_set() and time.monotonic() < deadline:
            since = runtime.started_at(live.run)
            if since is not None:
                live.since, live.running = since, True
                self.wake()
                return
            await asyncio.sleep(0.01)

    async def _attach_late(self, name: str, live: Live) -> None:
        deadline = time.monotonic() + SHIM_START_WAIT
        while (pid := runtime.shim_pid(live.run)) is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        if pid is None:
            pid = -1  # treated as already gone: the exit path settles it
        self._watch(name, live, pid)

    def _watch(self, name: str, live: Live, pid: int) -> None:
        live.watch = runtime.ExitWatch(pid, lambda: self._on_exit(name, live))
        live.watch.start(asyncio.get_running_loop())

    def _on_exit(self, name: str, live: Live) -> None:
        if not (live.run / "exit.json").exists():
            finalize_lost(live.run)
        for task in live.probes:
            task.cancel()
        live.done.set()
        if self.live.get(name) is live:
            del self.live[name]
        self.ready[name] = False
        self.started[name] = False
        self.wake()

    async def stop(self, name: str, *, grace: float, reason: str) -> None:
        """SIGTERM the container's process group, SIGKILL after ``grace`` seconds."""
        live = self.live.get(name)
        if live is None:
            return
        await self.ctx.events.emit(self.pod, reason="Killing", message=reason)
        deadline = time.monotonic() + grace
        # A shim that is still starting has no process group yet: retry until it does.
        while not runtime.signal_run(live.run, signal.SIGTERM) and not live.done.is_set():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.done.wait(), max(0.0, deadline - time.monotonic()))
        if not live.done.is_set():
            runtime.signal_run(live.run, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.done.wait(), 10.0)

    def detach(self) -> None:
        """Stop watching (the agent is shutting down; the shims keep running)."""
        loop = asyncio.get_running_loop()
        for live in self.live.values():
            if live.watch is not None:
                live.watch.cancel(loop)
            for task in live.probes:
                task.cancel()

    # ----- probes -------------------------------------------------------------
    async def _probe_loop(self, name: str, spec: ProbeSpec, live: Live) -> None:
        await asyncio.sleep(spec.initial_delay)
        state = ProbeState()
        while self.live.get(name) is live:
            if not live.running or (spec.kind != "startup" and not self.started.get(name)):
                await asyncio.sleep(0.2)
                continue
            ok, message = await run_probe(
                spec,
                container=self._spec(name),
                pod_ip=self.pod.get("status", {}).get("podIP") or "",
                pid=(runtime.container_pgid(live.run)),
                env=live.env,
                http=self.ctx.http,
            )
            if not ok:
                msg = f"{spec.kind.capitalize()} probe failed: {message}"
                await self.ctx.events.emit(self.pod, reason="Unhealthy", message=msg, warning=True)
            new = record(state, ok, spec)
            changed, state = new.result != state.result, new
            if changed and await self._on_probe_result(name, spec, bool(new.result)):
                return
            await asyncio.sleep(spec.period)

    async def _on_probe_result(self, name: str, spec: ProbeSpec, ok: bool) -> bool:
        """Apply a flipped probe result; True when the probe loop should end."""
        if spec.kind == "readiness":
            self.ready[name] = ok
            self.wake()
            return False
        if spec.kind == "startup" and ok:
            self.started[name] = True
            self.wake()
            return True
        if ok:
            return False
        grace = spec.grace_seconds
        if grace is None:
            grace = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
        why = f"Container {name} failed {spec.kind} probe, will be restarted"
        with contextlib.suppress(asyncio.CancelledError):
            await self.stop(name, grace=float(grace), reason=why)
        return True
