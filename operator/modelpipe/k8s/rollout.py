"""Why a rollout missed its deadline: the new pods' restarts and the last reason they stopped.

Read only once the Deployment reports ``ProgressDeadlineExceeded`` (one LIST of its
pods, with the Deployment's own selector), so a healthy pipeline costs no extra call.
The rollback message can then tell a model that crashes from one that is merely slow
to start on a busy node, which need different fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON
from modelpipe.layout import MODEL_VERSION_ANNOTATION

# Waiting reasons that mean the container cannot run, as opposed to "not yet".
_STUCK_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class RolloutPods:
    """The new template's pods: how often they restarted and the last reason, if any."""

    restarts: int = 0
    crash: str | None = None


def deployment_pods(api: KubeApi, namespace: str, deployment: JSON) -> list[JSON]:
    """The pods of the Deployment's own selector (none without one)."""
    selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not selector:
        return []
    return api.list_pods(namespace, ",".join(f"{k}={v}" for k, v in sorted(selector.items())))


def read_rollout_pods(api: KubeApi, namespace: str, deployment: JSON) -> RolloutPods:
    template = (deployment.get("spec") or {}).get("template") or {}
    version = ((template.get("metadata") or {}).get("annotations") or {}).get(
        MODEL_VERSION_ANNOTATION
    )
    return summarise_pods(deployment_pods(api, namespace, deployment), version=version)


def summarise_pods(pods: list[JSON], *, version: str | None) -> RolloutPods:
    """Restarts and the most telling stop reason of the pods running ``version``."""
    restarts, crash = 0, None
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        if (
            version is not None
            and (meta.get("annotations") or {}).get(MODEL_VERSION_ANNOTATION) != version
        ):
            continue
        observed = pod.get("status") or {}
        # An init container (fetch-model: a model that fails verification) counts too.
        for status in observed.get("initContainerStatuses") or []:
            restarts += int(status.get("restartCount") or 0)
            done = ((status.get("state") or {}).get("terminated") or {}).get("exitCode") == 0
            reason = None if done else _stop_reason(status)
            crash = f"init container {status.get('name')}: {reason}" if reason else crash
        for status in observed.get("containerStatuses") or []:
            restarts += int(status.get("restartCount") or 0)
            crash = _stop_reason(status) or crash
    return RolloutPods(restarts=restarts, crash=crash)


def _stop_reason(status: JSON) -> str | None:
    waiting = (status.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") in _STUCK_WAITING:
        return str(waiting["reason"])
    terminated = (status.get("lastState") or {}).get("terminated") or (
        status.get("state") or {}
    ).get("terminated")
    if terminated:
        reason = terminated.get("reason") or "Error"
        return f"{reason}, exit code {terminated.get('exitCode', '?')}"
    return None
