"""Why a rollout missed its deadline: the new pods' restarts and the last reason they stopped.

Read only once the Deployment reports ``ProgressDeadlineExceeded`` (one LIST of its
pods, with the Deployment's own selector), so a healthy pipeline costs no extra call.
The rollback message can then tell a model that crashes from one that is merely slow
to start on a busy node, which need different fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelpipe.k8s.bodies import ContainerStatus, DeploymentBody, PodBody
from modelpipe.k8s.calls import KubeApi
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


def deployment_pods(api: KubeApi, namespace: str, deployment: DeploymentBody) -> list[PodBody]:
    """The pods of the Deployment's own selector (none without one)."""
    selector = deployment.spec.selector.match_labels
    if not selector:
        return []
    return api.list_pods(namespace, ",".join(f"{k}={v}" for k, v in sorted(selector.items())))


def read_rollout_pods(api: KubeApi, namespace: str, deployment: DeploymentBody) -> RolloutPods:
    version = deployment.spec.template.metadata.annotations.get(MODEL_VERSION_ANNOTATION)
    return summarise_pods(deployment_pods(api, namespace, deployment), version=version)


def summarise_pods(pods: list[PodBody], *, version: str | None) -> RolloutPods:
    """Restarts and the most telling stop reason of the pods running ``version``."""
    restarts, crash = 0, None
    for pod in pods:
        meta = pod.metadata
        if meta.deletion_timestamp:
            continue
        if version is not None and meta.annotations.get(MODEL_VERSION_ANNOTATION) != version:
            continue
        # An init container (fetch-model: a model that fails verification) counts too.
        for status in pod.status.init_container_statuses:
            restarts += status.restart_count
            ended = status.state.terminated
            reason = None if ended and ended.exit_code == 0 else _stop_reason(status)
            crash = f"init container {status.name}: {reason}" if reason else crash
        for status in pod.status.container_statuses:
            restarts += status.restart_count
            crash = _stop_reason(status) or crash
    return RolloutPods(restarts=restarts, crash=crash)


def _stop_reason(status: ContainerStatus) -> str | None:
    waiting = status.state.waiting
    if waiting is not None and waiting.reason in _STUCK_WAITING:
        return waiting.reason
    terminated = status.last_state.terminated or status.state.terminated
    if terminated:
        code = "?" if terminated.exit_code is None else terminated.exit_code
        return f"{terminated.reason or 'Error'}, exit code {code}"
    return None
