"""The per-container supervisor: ``python -m localkube.agent.shim RUN_DIR``.

One shim runs per container run, in its own session, so it outlives an agent crash.
It owns everything the agent must be able to find again after a restart:

- ``RUN_DIR/lock``: the agent locks it and hands the shim the open file as fd 3, so
  the lock is held for exactly as long as the shim lives (no pid-reuse guessing);
- ``shim.json`` (its pid) and ``started.json`` (the container's pid and start time),
  written *before* and right after the process starts;
- ``container.log``: stdout and stderr in the CRI log format;
- ``exit.json``: exit code, reason and times, written atomically when the process
  ends, even if no agent is running at that moment.

Before starting the process the shim enters a private mount namespace and performs
the planned bind mounts (:mod:`localkube.agent.nsmount`); the process runs in its own
process group, so the agent signals the whole group on termination.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from localkube.agent import crilog, nsmount

Json = dict[str, Any]
START_ERROR = 128
DRAIN_SECONDS = 2.0


def write_json(path: Path, data: Json) -> None:
    """Atomic write (rename), so a reader never sees half a record."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def proc_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, a unique id."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _exit_record(code: int, reason: str, message: str, started: float, **extra: Any) -> Json:
    return {
        "exitCode": code,
        "reason": reason,
        "message": message,
        "startedAt": started,
        "finishedAt": time.time(),
        **extra,
    }


def setup_mounts(spec: Json, run: Path) -> Path:
    """Build the container's private root and mounts; returns the root to chroot into."""
    nsmount.enter_private_namespace()
    scratch = run / "ns"
    root = nsmount.private_root(scratch)
    if spec.get("uid"):
        for path in spec.get("traversable", []):
            nsmount.make_traversable(path, root=root, scratch=scratch)
    for m in sorted(spec.get("mounts", []), key=lambda m: len(Path(m["target"]).parts)):
        target = nsmount.ensure_target(m["target"], is_dir=m["is_dir"], root=root, scratch=scratch)
        nsmount.bind(m["source"], str(target), read_only=m["read_only"])
    # Like containerd, create a missing workingDir (here: in the private root only).
    nsmount.ensure_target(spec.get("cwd") or "/", is_dir=True, root=root, scratch=scratch)
    if spec.get("read_only_root"):
        nsmount.read_only(str(root))
    return root


def start(spec: Json, root: Path) -> subprocess.Popen[bytes]:
    """Start the process: chroot, chdir, drop to the pod's uid/gid, exec."""
    uid, gid = spec.get("uid"), spec.get("gid")
    groups = [int(g) for g in spec.get("groups") or []]

    def enter() -> None:  # runs in the child between fork and exec
        os.chroot(root)
        os.chdir(spec.get("cwd") or "/")
        if uid is not None or groups:
            os.setgroups(groups)
        if uid is not None or gid is not None:
            os.setgid(gid if gid is not None else 0)
        if uid is not None:
            os.setuid(uid)
        if spec.get("no_new_privs"):
            nsmount.no_new_privs()

    return subprocess.Popen(
        spec["argv"],
        env=spec["env"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
        preexec_fn=enter,
        close_fds=True,
    )


class LogPump:
    """Copies the process's stdout/stderr into the CRI log, one line at a time."""

    def __init__(self, proc: subprocess.Popen[bytes], log_fd: int) -> None:
        self.sel = selectors.DefaultSelector()
        self.pending: dict[str, bytes] = {}
        self.log_fd = log_fd
        streams: list[tuple[IO[bytes] | None, str]] = [
            (proc.stdout, "stdout"),
            (proc.stderr, "stderr"),
        ]
        for pipe, name in streams:
            if pipe is not None:
                self.sel.register(pipe, selectors.EVENT_READ, name)

    @property
    def open(self) -> bool:
        return bool(self.sel.get_map())

    def pump(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout):
            data = os.read(key.fd, 65536)
            if not data:
                self.sel.unregister(key.fileobj)
                self._flush(key.data, final=True)
                continue
            self.pending[key.data] = self.pending.get(key.data, b"") + data
            self._flush(key.data, final=False)

    def _flush(self, stream: str, *, final: bool) -> None:
        buf = self.pending.pop(stream, b"")
        now = time.time()
        out = []
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            out.append(crilog.format_line(now, stream, line, partial=False))
        while len(buf) > crilog.MAX_LINE:
            out.append(crilog.format_line(now, stream, buf[: crilog.MAX_LINE], partial=True))
            buf = buf[crilog.MAX_LINE :]
        if final and buf:
            out.append(crilog.format_line(now, stream, buf, partial=False))
        elif buf:
            self.pending[stream] = buf
        if out:
            os.write(self.log_fd, b"".join(out))


def supervise(proc: subprocess.Popen[bytes], log_fd: int) -> int:
    """Pump logs until the process exits, then kill its group and drain the pipes."""
    pump = LogPump(proc, log_fd)
    code: int | None = None
    drain_until = 0.0
    while pump.open:
        pump.pump(0.5)
        if code is None and (code := proc.poll()) is not None:
            _kill_group(proc.pid)
            drain_until = time.monotonic() + DRAIN_SECONDS
        if code is not None and time.monotonic() > drain_until:
            break
    return proc.wait()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run(run_dir: Path) -> int:
    spec: Json = json.loads((run_dir / "spec.json").read_text())
    write_json(run_dir / "shim.json", {"pid": os.getpid()})
    started = time.time()
    try:
        root = setup_mounts(spec, run_dir)
    except (nsmount.MountError, OSError) as err:
        write_json(
            run_dir / "exit.json", _exit_record(START_ERROR, "StartError", str(err), started)
        )
        return 0
    log_fd = os.open(run_dir / "container.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        proc = start(spec, root)
    except (OSError, subprocess.SubprocessError) as err:
        why = err.strerror if isinstance(err, OSError) else str(err)
        msg = f'failed to start container process: exec: "{spec["argv"][0]}": {why}'
        write_json(run_dir / "exit.json", _exit_record(START_ERROR, "StartError", msg, started))
        return 0
    _child.append(proc.pid)
    started = time.time()
    started_record = {"pid": proc.pid, "startedAt": started, "procStart": proc_start(proc.pid)}
    write_json(run_dir / "started.json", started_record)
    rc = supervise(proc, log_fd)
    code, sig = (rc, None) if rc >= 0 else (128 - rc, -rc)
    reason = "Completed" if code == 0 else "Error"
    record = _exit_record(code, reason, "", started, signal=sig)
    write_json(run_dir / "exit.json", record)
    return 0


_child: list[int] = []


def _forward(signum: int, _frame: object) -> None:
    """Pass a signal sent to the shim on to the container's process group.

    A Python handler (unlike SIG_IGN) is reset at exec, so the container still
    gets the default dispositions.
    """
    if _child:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(_child[0], signum)


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _forward)
    if len(sys.argv) != 2:
        print("usage: python -m localkube.agent.shim RUN_DIR", file=sys.stderr)
        return 2
    return run(Path(sys.argv[1]))


if __name__ == "__main__":
    raise SystemExit(main())
