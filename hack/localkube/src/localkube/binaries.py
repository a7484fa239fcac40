"""Find (or build, once) the control-plane binaries in the cache outside the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

_BUILD = Path(__file__).resolve().parents[2] / "build.sh"
NAMES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


class MissingToolchain(RuntimeError):
    """Go is missing, so the binaries cannot be built."""


def cache_dir() -> Path:
    out = subprocess.run(
        ["bash", str(_BUILD), "--print-dir"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def ensure(*, log: Callable[[str], None]) -> Path:
    """Return the binary directory, building it first when the cache is cold."""
    directory = cache_dir()
    if all(os.access(directory / n, os.X_OK) for n in NAMES):
        return directory
    if shutil.which("go") is None:
        raise MissingToolchain(
            "Go is not installed, and the local cluster's binaries are built from Go modules.\n"
            "  Install Go 1.25+ (e.g. the tarball from go.dev/dl, or your distribution's\n"
            "  golang package if it is new enough), put 'go' on PATH, and run again.\n"
            f"  Binaries are cached in {directory}"
        )
    log(f"Building the control plane into {directory} (one time; progress follows)")
    subprocess.run(["bash", str(_BUILD)], check=True, stdout=subprocess.DEVNULL)
    return directory


NODE_NAMES = ("kubelet", "kube-proxy")


def ensure_node(*, log: Callable[[str], None]) -> Path:
    """The real node's kubelet and kube-proxy: a cache directory of their own."""
    return _ensure_target("node", NODE_NAMES, what="the kubelet and kube-proxy", log=log)


def ensure_storage(*, log: Callable[[str], None]) -> Path:
    """Rancher's local-path-provisioner: a cache directory of its own."""
    names = ("local-path-provisioner",)
    return _ensure_target("storage", names, what="the local-path-provisioner", log=log)


def _ensure_target(
    target: str, names: tuple[str, ...], *, what: str, log: Callable[[str], None]
) -> Path:
    out = subprocess.run(
        ["bash", str(_BUILD), "--print-dir", target], check=True, capture_output=True, text=True
    )
    directory = Path(out.stdout.strip())
    if all(os.access(directory / n, os.X_OK) for n in names):
        return directory
    if shutil.which("go") is None:
        raise MissingToolchain(f"Go is not installed; {what} is built from its Go module.")
    log(f"Building {what} into {directory} (one time)")
    subprocess.run(["bash", str(_BUILD), target], check=True, stdout=subprocess.DEVNULL)
    return directory
