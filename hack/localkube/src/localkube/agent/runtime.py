"""Container runs on disk: start a shim, find runs again, signal them, read exits.

Layout: ``<pod dir>/containers/<name>/<run index>/`` holds one run's ``spec.json``,
``lock``, ``shim.json``, ``started.json``, ``container.log``, ``termination-log``
and, once it ended, ``exit.json`` (see :mod:`localkube.agent.shim`).

The run index only grows; a new run is created only after the previous one has an
exit record (or provably never started), which is what makes "never start a
container twice" hold across agent restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube.agent import crilog
from localkube.agent.lifecycle import Exited
from localkube.agent.shim import proc_start

Json = dict[str, Any]
MAX_MESSAGE = 4096
LOST = Exited(
    exit_code=137,
    reason="ContainerStatusUnknown",
    message="The container could not be located when the pod was terminated",
    started_at=0.0,
    finished_at=0.0,
)


class RunState(enum.Enum):
    UNSTARTED = "unstarted"  # run dir exists, but the process never started
    RUNNING = "running"  # the shim holds the lock
    EXITED = "exited"  # exit.json exists
    LOST = "lost"  # started, shim gone, no exit record (shim was killed)


def container_dir(pod_dir: Path, name: str) -> Path:
    return pod_dir / "containers" / name


def container_names(pod_dir: Path) -> list[str]:
    base = pod_dir / "containers"
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def run_indexes(pod_dir: Path, name: str) -> list[int]:
    base = container_dir(pod_dir, name)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit())


def _read(path: Path) -> Json | None:
    try:
        data: Json = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def shim_alive(run: Path) -> bool:
    """True while the shim holds the run's lock (released by the kernel when it dies)."""
    try:
        fd = os.open(run / "lock", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def run_state(run: Path) -> RunState:
    if (run / "exit.json").exists():
        return RunState.EXITED
    if shim_alive(run):
        return RunState.RUNNING
    if (run / "exit.json").exists():  # it finished between the two checks
        return RunState.EXITED
    return RunState.LOST if (run / "started.json").exists() else RunState.UNSTARTED


def started_at(run: Path) -> float | None:
    rec = _read(run / "started.json")
    return float(rec["startedAt"]) if rec else None


def read_exit(run: Path, *, fallback_to_logs: bool) -> Exited:
    """The run's exit, with the termination message (or the log tail, on error)."""
    rec = _read(run / "exit.json")
    if rec is None:
        return LOST
    message = rec.get("message") or ""
    if not message:
        with contextlib.suppress(OSError), (run / "termination-log").open("rb") as fh:
            message = fh.read(MAX_MESSAGE).decode("utf-8", "replace")
    if not message and fallback_to_logs and rec["exitCode"] != 0:
        message = crilog.tail_text(read_log(run))
    return Exited(
        exit_code=int(rec["exitCode"]),
        reason=str(rec["reason"]),
        message=message,
        started_at=float(rec["startedAt"]),
        finished_at=float(rec["finishedAt"]),
        signal=rec.get("signal"),
    )


def read_log(run: Path) -> list[crilog.Entry]:
    try:
        with (run / "container.log").open("rb") as fh:
            return crilog.parse(fh)
    except OSError:
        return []


def new_run(pod_dir: Path, name: str, index: int, spec: Json) -> Path:
    """Create the run directory with its spec and an empty termination-message file."""
    run = container_dir(pod_dir, name) / str(index)
    if run.exists():  # a run that provably never started: reuse its index
        shutil.rmtree(run)
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps(spec))
    term = run / "termination-log"
    term.touch()
    term.chmod(0o666)
    return run


def spawn_shim(run: Path) -> int:
    """Start the shim in its own session, holding the run's lock as fd 3."""
    fd = os.open(run / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        actions: list[tuple[Any, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(run / "shim.log"), os.O_WRONLY | os.O_CREAT, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        if fd != 3:
            actions.insert(0, (os.POSIX_SPAWN_DUP2, fd, 3))
        else:
            os.set_inheritable(fd, True)
        argv = [sys.executable, "-m", "localkube.agent.shim", str(run)]
        return os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions, setsid=True)
    finally:
        os.close(fd)


def shim_pid(run: Path) -> int | None:
    rec = _read(run / "shim.json")
    return int(rec["pid"]) if rec else None


def container_pgid(run: Path) -> int | None:
    """The container's process group, if that exact process is still alive."""
    rec = _read(run / "started.json")
    if rec is None:
        return None
    pid = int(rec["pid"])
    start = proc_start(pid)
    if start is None or (rec.get("procStart") is not None and start != rec["procStart"]):
        return None
    return pid


def signal_run(run: Path, sig: signal.Signals) -> bool:
    """Signal the container's process group; False when nothing was there to signal."""
    pgid = container_pgid(run)
    if pgid is None:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class ExitWatch:
    """Calls ``on_exit`` once the shim process is gone (pidfd: works for non-children)."""

    pid: int
    on_exit: Callable[[], None]
    _fd: int = -1

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._fd = os.pidfd_open(self.pid)
        except OSError:  # already gone (or never recorded)
            loop.call_soon(self._fire, loop)
            return
        loop.add_reader(self._fd, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._fd >= 0:
            loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        self.on_exit()

    def cancel(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._fd >= 0:
            loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
