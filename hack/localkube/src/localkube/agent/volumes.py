"""Materialise a pod's volumes on the host (see :mod:`localkube.agent.mountplan`).

``volume_files`` is the pure part: what each file-backed volume contains. The rest
creates directories, writes files atomically (write + rename, so a reader in the pod
never sees half a token) and applies ``fsGroup``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube.agent.envvars import Blocked, Objects, field_value, resource_value
from localkube.agent.mountplan import VolumeSource

Json = dict[str, Any]
Files = dict[str, tuple[bytes, int]]
MOUNT_FAILED = "ContainerCreating"
DEFAULT_TOKEN_SECONDS = 3607


@dataclass(frozen=True)
class TokenNeed:
    """A projected service-account token to request: where it goes and for whom."""

    volume: str
    path: str
    audience: str | None
    seconds: int


def token_needs(pod: Json) -> list[TokenNeed]:
    out = []
    for vol in pod.get("spec", {}).get("volumes") or []:
        for src in (vol.get("projected") or {}).get("sources") or []:
            tok = src.get("serviceAccountToken")
            if tok:
                seconds = int(tok.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
                out.append(TokenNeed(vol["name"], tok["path"], tok.get("audience"), seconds))
    return out


def _failed(volume: str, why: str) -> Blocked:
    return Blocked(MOUNT_FAILED, f'MountVolume.SetUp failed for volume "{volume}" : {why}')


def _keyed_files(
    kind: str, ref: Json, *, objects: Objects, volume: str, default_mode: int
) -> Files | Blocked:
    name = ref.get("name") or ref.get("secretName", "")
    data = objects.raw(kind, name)
    if data is None:
        if ref.get("optional"):
            return {}
        return _failed(volume, f'{kind.lower()} "{name}" not found')
    items = ref.get("items")
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    files: Files = {}
    for item in items:
        if item["key"] not in data:
            if ref.get("optional"):
                continue
            return _failed(volume, f"configmap references non-existent config key: {item['key']}")
        files[item["path"]] = (data[item["key"]], int(item.get("mode", default_mode)))
    return files


def _downward_files(items: list[Json], pod: Json, *, default_mode: int) -> Files:
    files: Files = {}
    containers = {c["name"]: c for c in pod.get("spec", {}).get("containers", [])}
    for item in items:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"]["fieldPath"])
        else:
            ref = item["resourceFieldRef"]
            container = containers.get(ref.get("containerName", ""), {})
            value = resource_value(container, ref, node_capacity={})
        files[item["path"]] = (value.encode(), int(item.get("mode", default_mode)))
    return files


def volume_files(
    volume: Json, pod: Json, *, objects: Objects, tokens: Mapping[tuple[str, str], str]
) -> Files | Blocked:
    """The files of a configMap, secret, downwardAPI or projected volume."""
    name = volume["name"]
    for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
        if key in volume:
            mode = int(volume[key].get("defaultMode", 0o644))
            return _keyed_files(kind, volume[key], objects=objects, volume=name, default_mode=mode)
    if "downwardAPI" in volume:
        mode = int(volume["downwardAPI"].get("defaultMode", 0o644))
        return _downward_files(volume["downwardAPI"].get("items") or [], pod, default_mode=mode)
    projected = volume["projected"]
    mode = int(projected.get("defaultMode", 0o644))
    files: Files = {}
    for src in projected.get("sources") or []:
        part: Files | Blocked
        if "serviceAccountToken" in src:
            path = src["serviceAccountToken"]["path"]
            part = {path: (tokens[(name, path)].encode(), mode)}
        elif "configMap" in src or "secret" in src:
            kind, key = ("ConfigMap", "configMap") if "configMap" in src else ("Secret", "secret")
            part = _keyed_files(kind, src[key], objects=objects, volume=name, default_mode=mode)
        elif "downwardAPI" in src:
            part = _downward_files(src["downwardAPI"].get("items") or [], pod, default_mode=mode)
        else:
            kinds = ", ".join(src)
            return Blocked(
                "UnsupportedVolume", f'projected volume "{name}": source {kinds} is not supported'
            )
        if isinstance(part, Blocked):
            return part
        files.update(part)
    return files


def write_files(directory: Path, files: Files) -> None:
    """Write (or rewrite) a file volume; each file is replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    for rel, (data, mode) in files.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o777)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        tmp.chmod(mode & 0o777)
        tmp.replace(target)


def prepare_dir_volume(source: VolumeSource, volume: Json) -> Blocked | None:
    """Create emptyDir/PVC directories and check hostPath types."""
    if source.kind in ("emptyDir", "persistentVolumeClaim"):
        source.host_path.mkdir(parents=True, exist_ok=True)
        source.host_path.chmod(0o777)
        return None
    if source.kind != "hostPath":
        return None
    kind = volume["hostPath"].get("type") or ""
    path = source.host_path
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        return _failed(source.name, f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        return _failed(source.name, f"hostPath type check failed: {path} is not a file")
    elif kind in ("Socket", "CharDevice", "BlockDevice") and not path.exists():
        return _failed(source.name, f"hostPath type check failed: {path} does not exist")
    return None


def apply_fs_group(path: Path, gid: int) -> None:
    """What the kubelet does for ``fsGroup``: group-own the volume, group-writable, setgid."""
    for entry in [path, *path.rglob("*")]:
        if entry.is_symlink():
            continue
        os.chown(entry, -1, gid)
        extra = 0o2070 if entry.is_dir() else 0o040
        entry.chmod((entry.stat().st_mode & 0o7777) | extra)
