"""Set up all of one pod's volumes, fetching what they need from the API first.

Returns when the projected service-account tokens must be refreshed (at 80 % of
their lifetime, as the kubelet does), or a :class:`Blocked` saying which volume
cannot be set up yet (a missing ConfigMap, Secret or PVC): the pod then waits in
``ContainerCreating`` and the agent retries.
"""

from __future__ import annotations

import time
from typing import Any

from localkube.agent import volumes
from localkube.agent.api import ApiError
from localkube.agent.context import Context
from localkube.agent.envvars import Blocked, Objects
from localkube.agent.mountplan import FILE_VOLUMES, VolumeSource, volume_kind

Json = dict[str, Any]
REFRESH_FRACTION = 0.8


async def fetch_tokens(
    ctx: Context, pod: Json
) -> tuple[dict[tuple[str, str], str], float] | Blocked:
    """TokenRequest for every projected serviceAccountToken; bound to this pod."""
    tokens: dict[tuple[str, str], str] = {}
    refresh_at = float("inf")
    sa = pod["spec"].get("serviceAccountName") or "default"
    for need in volumes.token_needs(pod):
        try:
            answer = await ctx.api.token_request(
                ns=pod["metadata"]["namespace"],
                sa=sa,
                pod=pod,
                audience=need.audience,
                seconds=need.seconds,
            )
        except ApiError as err:
            why = f'failed to fetch token for service account "{sa}": {err}'
            return Blocked(
                volumes.MOUNT_FAILED, f'MountVolume.SetUp failed for volume "{need.volume}" : {why}'
            )
        tokens[(need.volume, need.path)] = answer["status"]["token"]
        lifetime = int(answer.get("spec", {}).get("expirationSeconds") or need.seconds)
        refresh_at = min(refresh_at, time.time() + REFRESH_FRACTION * lifetime)
    return tokens, refresh_at


async def prepare_pod_volumes(
    ctx: Context, pod: Json, plan: dict[str, VolumeSource], objects: Objects
) -> float | Blocked:
    fetched = await fetch_tokens(ctx, pod)
    if isinstance(fetched, Blocked):
        return fetched
    tokens, refresh_at = fetched
    ns = pod["metadata"]["namespace"]
    fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
    for vol in pod["spec"].get("volumes") or []:
        source, kind = plan[vol["name"]], volume_kind(vol)
        if kind == "persistentVolumeClaim":
            claim = await ctx.api.get_or_none(
                f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{source.claim}"
            )
            if claim is None:
                why = f'persistentvolumeclaim "{source.claim}" not found'
                return Blocked(
                    volumes.MOUNT_FAILED,
                    f'MountVolume.SetUp failed for volume "{vol["name"]}" : {why}',
                )
        problem = volumes.prepare_dir_volume(source, vol)
        if problem is not None:
            return problem
        if kind in FILE_VOLUMES:
            files = volumes.volume_files(vol, pod, objects=objects, tokens=tokens)
            if isinstance(files, Blocked):
                return files
            volumes.write_files(source.host_path, files)
        if fs_group is not None and kind != "hostPath":
            volumes.apply_fs_group(source.host_path, int(fs_group))
    return refresh_at
