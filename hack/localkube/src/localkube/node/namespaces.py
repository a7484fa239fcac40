"""Linux namespace primitives (Python 3.11 has no os.setns/os.unshare).

The node runs in a network namespace made with ``ip netns add`` (so ``ip netns
exec`` can look inside it) and in a private mount namespace of its own, so
that its mounts (tmpfs, overlay rootfs, pod netns files) vanish with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
NETNS_DIR = Path("/run/netns")

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


@contextlib.contextmanager
def entered_netns(path: Path) -> Iterator[None]:
    """Run the block in another network namespace (this thread only): sockets
    created inside keep that namespace after the block ends."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        setns(target, CLONE_NEWNET)
        yield
    finally:
        setns(own, CLONE_NEWNET)
        os.close(target)
        os.close(own)


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def netns_exists(name: str) -> bool:
    return netns_path(name).exists()


def add_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, text=True)


def delete_netns(name: str) -> None:
    if netns_exists(name):
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


def in_netns(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", name, *args], check=True, capture_output=True, text=True
    )


def processes_in_netns(name: str) -> list[int]:
    """PIDs whose network namespace is ``name``'s (what ``ip netns pids`` shows)."""
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]
