"""Private mount namespaces and bind mounts, through libc (Python 3.11 has no os.unshare).

Used only by the shim, inside its own mount namespace, so nothing here changes the
host's view of the filesystem.

A bind mount needs its target to exist. When a ``mountPath`` (or
``/dev/termination-log``) does not exist on the host, the deepest existing ancestor
is covered with an overlayfs whose upper layer lives in the container's scratch
directory; the missing path is created in that upper layer. The ancestor's own
sub-mounts (``/dev/pts``, ``/dev/shm``, ...) are bound back on top of the overlay, so
nothing the process relies on disappears.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class MountError(Exception):
    """A mount step failed; the message names the step and the errno."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise MountError(f"{what}: {os.strerror(err)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _check(
        _libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {source or ''} on {target}",
    )


def enter_private_namespace() -> None:
    """``unshare -m --propagation private``: later mounts stay in this process tree."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)


def bind(source: str, target: str, *, read_only: bool) -> None:
    _mount(source, target, None, MS_BIND | MS_REC, None)
    if read_only:
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def submounts(directory: str) -> list[str]:
    """Top-level mount points strictly below ``directory``, from /proc/self/mountinfo."""
    prefix = directory.rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split(" ")[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(point)
    points = sorted(set(points), key=len)
    top: list[str] = []
    for p in points:
        if not any(p.startswith(t.rstrip("/") + "/") for t in top):
            top.append(p)
    return top


def deepest_existing(path: Path) -> Path:
    current = path
    while not current.exists():
        current = current.parent
    return current


def overlay(directory: Path, scratch: Path) -> None:
    """Cover ``directory`` with a writable overlay (see the module docstring)."""
    index = len(list(scratch.glob("lower-*")))
    lower, upper, work = (scratch / f"{k}-{index}" for k in ("lower", "upper", "work"))
    for d in (lower, upper, work):
        d.mkdir(parents=True, exist_ok=True)
    upper.chmod(directory.stat().st_mode & 0o7777)
    subs = submounts(str(directory))
    bind(str(directory), str(lower), read_only=False)
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
    _mount("overlay", str(directory), "overlay", 0, opts)
    for sub in subs:
        rel = os.path.relpath(sub, directory)
        bind(str(lower / rel), sub, read_only=False)


def ensure_target(target: str, *, is_dir: bool, scratch: Path) -> None:
    """Make ``target`` exist in this namespace only, overlaying an ancestor if needed."""
    path = Path(os.path.realpath(target))
    if path.exists():
        return
    ancestor = deepest_existing(path)
    if ancestor == Path("/"):
        raise MountError(f"mount path {target}: a new top-level directory is not supported")
    overlay(ancestor, scratch)
    if is_dir:
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def make_traversable(path: Path, scratch: Path) -> None:
    """Overlay each ancestor of ``path`` that others cannot enter (e.g. ``/root``).

    The venv's interpreter may live under ``/root``; a pod running as a non-root uid
    still needs to execute it. Only this namespace sees the relaxed directory mode.
    """
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not ancestor.stat().st_mode & 0o001:
            overlay(ancestor, scratch)
            # Only this namespace's overlay copy changes; the host dir keeps its mode.
            ancestor.chmod(ancestor.stat().st_mode | 0o111)
