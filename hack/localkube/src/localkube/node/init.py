"""The node's init: the one process that owns the node's namespaces.

``localkube up`` starts it (``python -m localkube.node.init SPEC``). It joins the
node's network namespace, makes a private mount namespace (so nothing the node
mounts is visible on the host, and everything goes when the node stops), gives
the kubelet private ``/run``, ``/var/lib`` and ``/var/log`` (its hard-coded paths
land there, not on the host) and the kernel settings it wants to see, then runs
containerd, the kubelet and kube-proxy as its children: a component that dies
is restarted with back-off, and ``status.json`` says so for ``localkube status``.

SIGTERM stops the node: the kubelet and kube-proxy first, then every container
process (the node's cgroup subtree), then containerd and its shims.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localkube.node import cgroups
from localkube.node.namespaces import (
    CLONE_NEWNET,
    CLONE_NEWNS,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    mount,
    setns,
    unshare,
)

PRIVATE_TMPFS = ("/run", "/var/lib", "/var/log")
_MAX_BACKOFF = 30.0


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    wait_for: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_exit: int | None = None
    not_before: float = 0.0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def stop(self, grace: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Node:
    spec: dict[str, Any]
    components: list[Component] = field(default_factory=list)
    stopping: bool = False

    def enter_namespaces(self) -> None:
        fd = os.open(self.spec["netns"], os.O_RDONLY)
        setns(fd, CLONE_NEWNET)
        os.close(fd)
        unshare(CLONE_NEWNS)
        mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        for target in PRIVATE_TMPFS:
            mount("tmpfs", target, "tmpfs", 0, "mode=755")
        Path("/var/log/containers").mkdir()
        sysctls = Path(self.spec["sysctlDir"])
        for name, value in self.spec["sysctls"].items():
            fake = sysctls / name.replace("/", ".")
            fake.write_text(f"{value}\n")
            mount(str(fake), f"/proc/sys/{name}", None, MS_BIND, None)

    def supervise(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        while not self.stopping:
            now = time.monotonic()
            for comp in self.components:
                self._tend(comp, now)
            self._write_status()
            time.sleep(0.2)
        self.shutdown()

    def _tend(self, comp: Component, now: float) -> None:
        if comp.proc is not None:
            code = comp.proc.poll()
            if code is None:
                return
            comp.last_exit, comp.proc = code, None
            comp.restarts += 1
            comp.not_before = now + min(_MAX_BACKOFF, 2.0 ** min(comp.restarts, 5))
            _say(f"{comp.name} exited with {code}; restarting (restart {comp.restarts})")
        if now < comp.not_before or (comp.wait_for and not comp.wait_for.exists()):
            return
        try:
            comp.start()
        except OSError as err:
            comp.restarts += 1
            comp.not_before = now + _MAX_BACKOFF
            _say(f"{comp.name} could not start: {err}")

    def _on_signal(self, *_: object) -> None:
        self.stopping = True

    def shutdown(self) -> None:
        by_name = {c.name: c for c in self.components}
        for name in ("kubelet", "kube-proxy"):
            if name in by_name:
                by_name[name].stop(grace=10.0)
        cgroups.kill_all(self.spec["cgroupRoot"])
        if "containerd" in by_name:
            by_name["containerd"].stop(grace=10.0)
        _kill_mount_namespace_peers()
        self._write_status()

    def _write_status(self) -> None:
        status = {
            c.name: {
                "pid": c.proc.pid if c.proc else None,
                "restarts": c.restarts,
                "lastExit": c.last_exit,
            }
            for c in self.components
        }
        path = Path(self.spec["statusFile"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        tmp.replace(path)


def _kill_mount_namespace_peers() -> None:
    """containerd's shims outlive it by design; they share our mount namespace."""
    own = Path("/proc/self/ns/mnt").readlink()
    for _ in range(50):
        peers = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if (proc / "ns" / "mnt").readlink() == own:
                        peers.append(int(proc.name))
        if not peers:
            return
        for pid in peers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _say(msg: str) -> None:
    print(f"localkube-node: {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    node = Node(spec=spec)
    node.enter_namespaces()
    for c in spec["components"]:
        wait_for = Path(c["waitFor"]) if c.get("waitFor") else None
        node.components.append(Component(c["name"], c["argv"], Path(c["log"]), wait_for))
    _say(f"namespaces ready; starting {', '.join(c.name for c in node.components)}")
    node.supervise()


if __name__ == "__main__":
    main()
