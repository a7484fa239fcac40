"""Decide where each volume lives on the host and what each container mounts.

Pure. Volumes are host directories:

- ``emptyDir``: ``<pod dir>/volumes/<name>``, removed with the pod;
- ``persistentVolumeClaim``: ``<state dir>/pvc/<namespace>/<claim>``, shared by every
  pod that mounts the claim and kept after the pods go;
- ``configMap``, ``secret``, ``downwardAPI``, ``projected``: files written by the agent
  into ``<pod dir>/volumes/<name>`` (see :mod:`localkube.agent.volumes`);
- ``hostPath``: the host path itself.

Each container's shim bind-mounts those directories at the ``mountPath`` inside a
private mount namespace (:mod:`localkube.agent.nsmount`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube.agent.envvars import Blocked, expand

Json = dict[str, Any]

SUPPORTED = (
    "emptyDir",
    "hostPath",
    "persistentVolumeClaim",
    "configMap",
    "secret",
    "downwardAPI",
    "projected",
)
FILE_VOLUMES = ("configMap", "secret", "downwardAPI", "projected")
UNSUPPORTED_REASON = "UnsupportedVolume"


@dataclass(frozen=True)
class VolumeSource:
    """One pod volume, resolved to a host directory (or file, for hostPath)."""

    name: str
    kind: str
    host_path: Path
    read_only: bool = False
    claim: str | None = None


@dataclass(frozen=True)
class Mount:
    """One bind mount the shim performs before starting the process."""

    source: str
    target: str
    read_only: bool
    is_dir: bool

    def to_json(self) -> Json:
        return {
            "source": self.source,
            "target": self.target,
            "read_only": self.read_only,
            "is_dir": self.is_dir,
        }


def volume_kind(volume: Json) -> str:
    """The volume's source type: the one key besides ``name``."""
    keys = [k for k in volume if k != "name"]
    return keys[0] if keys else "emptyDir"


def plan_volumes(pod: Json, *, pod_dir: Path, state_dir: Path) -> dict[str, VolumeSource] | Blocked:
    """Host locations of every volume; an unsupported type fails the whole pod."""
    ns = pod["metadata"]["namespace"]
    plan: dict[str, VolumeSource] = {}
    for volume in pod.get("spec", {}).get("volumes") or []:
        name, kind = volume["name"], volume_kind(volume)
        if kind not in SUPPORTED:
            message = (
                f'volume "{name}" has type {kind}, which localkube does not support; '
                f"supported: {', '.join(SUPPORTED)}"
            )
            return Blocked(UNSUPPORTED_REASON, message)
        plan[name] = _volume_source(volume, kind, ns=ns, pod_dir=pod_dir, state_dir=state_dir)
    return plan


def _volume_source(
    volume: Json, kind: str, *, ns: str, pod_dir: Path, state_dir: Path
) -> VolumeSource:
    name = volume["name"]
    if kind == "hostPath":
        return VolumeSource(name, kind, Path(volume["hostPath"]["path"]))
    if kind == "persistentVolumeClaim":
        claim = volume[kind]["claimName"]
        return VolumeSource(
            name,
            kind,
            state_dir / "pvc" / ns / claim,
            read_only=bool(volume[kind].get("readOnly")),
            claim=claim,
        )
    return VolumeSource(name, kind, pod_dir / "volumes" / name, read_only=kind in FILE_VOLUMES)


def plan_mounts(
    container: Json,
    volumes: Mapping[str, VolumeSource],
    *,
    env: Mapping[str, str],
    termination_file: Path,
    is_dir: Callable[[Path], bool],
    keep_visible: Sequence[tuple[Path, bool]] = (),
) -> list[Mount] | Blocked:
    """The container's bind mounts, termination-message file included.

    ``keep_visible`` lists (path, read_only) pairs the process needs whatever the
    pod mounts, e.g. the project's venv and the pod's working directory: a volume
    mounted over one of their parents (an emptyDir at /tmp while the checkout is
    under /tmp) would hide them, so they are bound back in on top.
    """
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        source = volumes.get(vm["name"])
        if source is None:
            return Blocked("CreateContainerConfigError", f'volume "{vm["name"]}" is not defined')
        sub = vm.get("subPath") or expand(vm.get("subPathExpr", ""), env.get)
        if sub.startswith("/") or ".." in Path(sub).parts:
            return Blocked("CreateContainerConfigError", f"subPath {sub!r} must be relative")
        host = source.host_path / sub if sub else source.host_path
        mounts.append(
            Mount(
                source=str(host),
                target=vm["mountPath"],
                read_only=bool(vm.get("readOnly")) or source.read_only,
                is_dir=is_dir(host),
            )
        )
    targets = [Path(m.target) for m in mounts]
    for keep, read_only in keep_visible:
        if any(keep == t or t in keep.parents for t in targets):
            mounts.append(Mount(str(keep), str(keep), read_only=read_only, is_dir=True))
    path = container.get("terminationMessagePath") or "/dev/termination-log"
    mounts.append(Mount(str(termination_file), path, read_only=False, is_dir=False))
    return mounts


def subpath_dirs(container: Json, volumes: Mapping[str, VolumeSource]) -> list[Path]:
    """Sub-directories of writable volumes that must exist before mounting.

    The kubelet creates a missing ``subPath`` directory, so we do too.
    """
    out: list[Path] = []
    for vm in container.get("volumeMounts") or []:
        source = volumes.get(vm["name"])
        if source and vm.get("subPath") and source.kind in ("emptyDir", "persistentVolumeClaim"):
            out.append(source.host_path / vm["subPath"])
    return out
