"""Private mount namespaces and bind mounts, through libc (Python 3.11 has no os.unshare).

Used only by the shim, inside its own mount namespace, so nothing here changes the
host's view of the filesystem.

Each container gets a private root (:func:`private_root`): an overlay of ``/`` with
the host's top-level mounts bound back in; the process ``chroot``s into it. A bind
mount needs its target to exist, so a missing ``mountPath`` is created in that
overlay. Inside a bound-in mount such as ``/dev`` (for ``/dev/termination-log``) the
directory is overlaid once more (:func:`overlay`), its own sub-mounts (``/dev/pts``,
``/dev/shm``, ...) bound back on top, so nothing the process relies on disappears.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38

# The running interpreter links libc; CDLL(None) finds mount/unshare without
# importing ctypes.util (which pulls in subprocess and more: shim memory matters).
_libc = ctypes.CDLL(None, use_errno=True)


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


def read_only(target: str) -> None:
    """Make one mount point read-only (``readOnlyRootFilesystem`` on the private root)."""
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def no_new_privs() -> None:
    """``allowPrivilegeEscalation: false``: setuid binaries cannot raise privileges."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


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
        if point.startswith(prefix) and point.rstrip("/") != directory.rstrip("/"):
            points.append(point)
    points = sorted(set(points), key=len)
    top: list[str] = []
    for p in points:
        if not any(p.startswith(t.rstrip("/") + "/") for t in top):
            top.append(p)
    return top


def private_root(scratch: Path) -> Path:
    """A writable copy-on-write view of ``/`` for the container to ``chroot`` into.

    The root filesystem is overlaid (upper layer in ``scratch``, removed with the
    pod) and every top-level mount (``/proc``, ``/sys``, ``/dev``, ...) is bound back
    into it. New directories such as ``/data`` or ``/etc/app`` can then be created
    for mount points, and whatever the process writes outside its volumes stays in
    the pod's own layer, as in a container, instead of landing on the host.
    """
    subs = submounts("/")
    root, lower, upper, work = (scratch / k for k in ("root", "rootlower", "rootupper", "rootwork"))
    for d in (root, lower, upper, work):
        d.mkdir(parents=True, exist_ok=True)
    _mount("/", str(lower), None, MS_BIND, None)
    _mount("overlay", str(root), "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")
    if root.stat().st_dev == Path("/").stat().st_dev:  # never let a pod write to the host root
        raise MountError(f"{root} is not a private overlay of /")
    for sub in subs:
        target = root / sub.lstrip("/")
        if target.is_dir():
            bind(sub, str(target), read_only=False)
    return root


def resolve_in(root: Path, path: str) -> Path:
    """``path`` as seen from inside ``root``: absolute symlinks restart at ``root``."""
    current = root
    parts = list(Path(path).parts[1:])
    hops = 0
    while parts:
        part = parts.pop(0)
        candidate = current / part
        if candidate.is_symlink() and hops < 40:
            hops += 1
            link = str(candidate.readlink())
            parts = list(Path(link).parts[1:] if link.startswith("/") else Path(link).parts) + parts
            current = root if link.startswith("/") else current
            continue
        current = candidate.parent if part == ".." else candidate
    return current


def overlay(directory: Path, scratch: Path) -> None:
    """Cover ``directory`` with a writable overlay, keeping its sub-mounts."""
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


def _writable(path: Path, *, root: Path, scratch: Path) -> None:
    """Make ``path`` (an existing directory) writable: on a bound-in mount, overlay it."""
    if path.stat().st_dev != root.stat().st_dev:
        overlay(path, scratch)


def ensure_target(target: str, *, is_dir: bool, root: Path, scratch: Path) -> Path:
    """Create ``target`` inside ``root`` if missing; returns its path as seen from here."""
    path = resolve_in(root, target)
    if path.exists():
        return path
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    _writable(ancestor, root=root, scratch=scratch)
    if is_dir:
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return path


def make_traversable(path: str, *, root: Path, scratch: Path) -> None:
    """Let other uids enter each ancestor of ``path`` (e.g. ``/root``), in ``root`` only.

    The venv's interpreter may live under ``/root``; a pod running as a non-root uid
    still needs to execute it. The host directory keeps its mode.
    """
    inside = resolve_in(root, path)
    for ancestor in reversed(inside.parents):
        if ancestor.is_relative_to(root) and ancestor != root:
            mode = ancestor.stat().st_mode
            if not mode & 0o001:
                _writable(ancestor, root=root, scratch=scratch)
                ancestor.chmod(mode | 0o111)
