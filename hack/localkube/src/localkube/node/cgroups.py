"""The node's cgroup subtree (``cgroupRoot`` in the KubeletConfiguration).

Each cluster's kubelet puts its pods under ``/localkube-NAME`` in every cgroup
hierarchy, so clusters never share a ``kubepods`` tree, and ``localkube down``
can kill every container process and remove the whole subtree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")


def _hierarchies() -> list[Path]:
    if not CGROUP_FS.is_dir():
        return []
    if (CGROUP_FS / "cgroup.controllers").exists():  # cgroup v2 only
        return [CGROUP_FS]
    return sorted(p for p in CGROUP_FS.iterdir() if p.is_dir() and not p.is_symlink())


def prepare(root: str) -> None:
    """Create ``root`` in every hierarchy; cpuset needs its cpus and mems filled in."""
    for hierarchy in _hierarchies():
        directory = hierarchy / root.strip("/")
        directory.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            parent, child = hierarchy / name, directory / name
            if parent.exists() and child.exists() and not child.read_text().strip():
                child.write_text(parent.read_text())


def _tree(hierarchy: Path, root: str) -> Iterator[Path]:
    top = hierarchy / root.strip("/")
    if top.is_dir():
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            yield Path(dirpath)


def pids(root: str) -> set[int]:
    found: set[int] = set()
    for hierarchy in _hierarchies():
        for directory in _tree(hierarchy, root):
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
    return found


def kill_all(root: str, *, timeout: float = 10.0) -> None:
    """SIGKILL every process under ``root`` until none is left (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while (left := pids(root)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def remove(root: str) -> None:
    """Remove the subtree, deepest first (cgroup directories go with rmdir only)."""
    for hierarchy in _hierarchies():
        for directory in _tree(hierarchy, root):
            with contextlib.suppress(OSError):
                directory.rmdir()
