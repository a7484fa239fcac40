"""Turn one container of a pod into the shim's run spec (pure).

The run spec is everything the shim needs and nothing it has to look up: argv, the
resolved environment, working directory, uid/gid/groups and the bind mounts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube.agent import envvars
from localkube.agent.envvars import CONFIG_ERROR, Blocked, Objects
from localkube.agent.mountplan import VolumeSource, plan_mounts

Json = dict[str, Any]
UNSUPPORTED_FEATURE = "UnsupportedFeature"
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL", "TZ")


@dataclass(frozen=True)
class Identity:
    """Who the process runs as, from the pod and container security contexts."""

    uid: int | None
    gid: int | None
    groups: tuple[int, ...]
    fs_group: int | None
    read_only_root: bool = False
    no_new_privs: bool = False


def identity(pod: Json, container: Json) -> Identity | Blocked:
    pod_sc = pod.get("spec", {}).get("securityContext") or {}
    sc = {**pod_sc, **(container.get("securityContext") or {})}
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if sc.get("runAsNonRoot") and not uid:
        meta = pod["metadata"]
        msg = (
            f'container has runAsNonRoot and image will run as root (pod: "{meta["name"]}_'
            f'{meta["namespace"]}({meta["uid"]})", container: {container["name"]}); '
            "set runAsUser: localkube has no image to take a user from"
        )
        return Blocked(CONFIG_ERROR, msg)
    fs_group = pod_sc.get("fsGroup")
    groups = [g for g in [fs_group, *(pod_sc.get("supplementalGroups") or [])] if g is not None]
    return Identity(
        uid=uid,
        gid=gid,
        groups=tuple(groups),
        fs_group=fs_group,
        read_only_root=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
    )


def unsupported_feature(pod: Json) -> Blocked | None:
    """Pod features the agent cannot honour: fail the pod clearly instead of hanging."""
    for c in pod.get("spec", {}).get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            msg = (
                f"init container {c['name']} is a native sidecar (restartPolicy: Always), "
                "which localkube does not support; run it as a regular container"
            )
            return Blocked(UNSUPPORTED_FEATURE, msg)
    return None


def base_env(
    pod: Json,
    *,
    venv_bin: Path,
    api_host: str,
    api_port: int,
    host_env: Mapping[str, str],
    uid: int | None,
) -> dict[str, str]:
    """What every container starts with, before ``envFrom`` and ``env``."""
    env = {k: host_env[k] for k in PASS_THROUGH if k in host_env}
    env.update(
        {
            "PATH": f"{venv_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root" if not uid else "/tmp",  # noqa: S108 (a non-root HOME must be writable)
            "HOSTNAME": pod["metadata"]["name"],
            "VIRTUAL_ENV": str(venv_bin.parent),
            "KUBERNETES_SERVICE_HOST": api_host,
            "KUBERNETES_SERVICE_PORT": str(api_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(api_port),
            "KUBERNETES_PORT": f"tcp://{api_host}:{api_port}",
            "KUBERNETES_PORT_443_TCP": f"tcp://{api_host}:{api_port}",
            "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
            "KUBERNETES_PORT_443_TCP_ADDR": api_host,
            "KUBERNETES_PORT_443_TCP_PORT": str(api_port),
        }
    )
    return env


@dataclass(frozen=True)
class SpecInputs:
    """Everything :func:`run_spec` needs besides the container itself."""

    pod: Json
    objects: Objects
    volumes: Mapping[str, VolumeSource]
    base: Mapping[str, str]
    node_capacity: Mapping[str, str]
    default_cwd: Path
    run_dir: Path
    traversable: tuple[str, ...]
    keep_visible: tuple[tuple[Path, bool], ...] = ()


def run_spec(container: Json, who: Identity, inp: SpecInputs) -> Json | Blocked:
    """The shim spec, or why the container cannot be created yet."""
    env = envvars.resolve_env(
        container, inp.pod, objects=inp.objects, base=inp.base, node_capacity=inp.node_capacity
    )
    if isinstance(env, Blocked):
        return env
    argv = envvars.resolve_argv(container, env)
    if isinstance(argv, Blocked):
        return argv
    mounts = plan_mounts(
        container,
        inp.volumes,
        env=env,
        termination_file=inp.run_dir / "termination-log",
        is_dir=lambda p: not p.is_file(),
        keep_visible=inp.keep_visible,
    )
    if isinstance(mounts, Blocked):
        return mounts
    return {
        "argv": argv,
        "env": env,
        "cwd": container.get("workingDir") or str(inp.default_cwd),
        "uid": who.uid,
        "gid": who.gid,
        "groups": list(who.groups),
        "read_only_root": who.read_only_root,
        "no_new_privs": who.no_new_privs,
        "mounts": [m.to_json() for m in mounts],
        "traversable": list(inp.traversable),
    }


def real_interpreter(venv_bin: Path) -> str:
    """The interpreter the venv's ``python`` points at (it may live under /root)."""
    return os.path.realpath(venv_bin / "python")
