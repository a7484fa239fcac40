"""Build the pod's ``status`` from the gathered view and the plan.

Pure. The result is sent as a strategic merge patch, so ``conditions`` merge by
type (the scheduler's ``PodScheduled`` stays) while container statuses are replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from localkube.agent.lifecycle import ContainerView, Exited, Plan, PodView

Json = dict[str, Any]


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated(e: Exited, container_id: str) -> Json:
    out: Json = {
        "exitCode": e.exit_code,
        "reason": e.reason,
        "startedAt": rfc3339(e.started_at),
        "finishedAt": rfc3339(e.finished_at),
        "containerID": container_id,
    }
    if e.message:
        out["message"] = e.message
    if e.signal:
        out["signal"] = e.signal
    return out


def container_status(c: ContainerView, spec: Json, plan: Plan, *, pod_uid: str) -> Json:
    """One entry of ``containerStatuses`` / ``initContainerStatuses``."""
    cid = f"localkube://{pod_uid}/{c.name}/{c.restart_count}"
    last_state: Json = {}
    if c.running_since is not None:
        state: Json = {"running": {"startedAt": rfc3339(c.running_since)}}
        if c.previous is not None:
            last_state = {"terminated": _terminated(c.previous, cid)}
    elif c.creating:
        state = {"waiting": {"reason": "ContainerCreating"}}
        if c.previous is not None:
            last_state = {"terminated": _terminated(c.previous, cid)}
    elif c.name in plan.waiting:
        why = plan.waiting[c.name]
        state = {
            "waiting": {"reason": why.reason, **({"message": why.message} if why.message else {})}
        }
        if c.last is not None:
            last_state = {"terminated": _terminated(c.last, cid)}
    elif c.last is not None:
        state = {"terminated": _terminated(c.last, cid)}
        if c.previous is not None:
            last_state = {"terminated": _terminated(c.previous, cid)}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    out: Json = {
        "name": c.name,
        "image": spec.get("image", ""),
        "imageID": "",
        "ready": c.running_since is not None and c.ready,
        "started": c.running_since is not None and c.started,
        "restartCount": c.restart_count,
        "state": state,
        "lastState": last_state,
    }
    if c.runs:
        out["containerID"] = cid
    return out


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Json:
    cond: Json = {"type": kind, "status": "True" if ok else "False"}
    if not ok and reason:
        cond["reason"] = reason
    if not ok and message:
        cond["message"] = message
    return cond


def conditions(view: PodView, plan: Plan, *, phase: str) -> list[Json]:
    """PodReadyToStartContainers, Initialized, ContainersReady and Ready."""
    pending_init = [c.name for c in view.init if not _init_done(c)]
    unready = [c.name for c in view.main if not (c.running_since is not None and c.ready)]
    completed = phase in ("Succeeded", "Failed")
    ready_reason = "PodCompleted" if completed else "ContainersNotReady"
    unready_msg = f"containers with unready status: [{' '.join(unready)}]"
    init_msg = f"containers with incomplete status: [{' '.join(pending_init)}]"
    return [
        _condition("PodReadyToStartContainers", view.blocked is None),
        _condition(
            "Initialized",
            plan.initialized or not pending_init,
            "PodCompleted" if completed else "ContainersNotInitialized",
            init_msg,
        ),
        _condition("ContainersReady", not unready and not completed, ready_reason, unready_msg),
        _condition("Ready", not unready and not completed, ready_reason, unready_msg),
    ]


def _init_done(c: ContainerView) -> bool:
    return c.running_since is None and c.last is not None and c.last.exit_code == 0


def merge_transition_times(new: list[Json], old: list[Json], *, now: float) -> list[Json]:
    """Keep ``lastTransitionTime`` from the old condition when its status is unchanged."""
    before = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prev = before.get(cond["type"])
        same = prev is not None and prev.get("status") == cond["status"]
        when = prev.get("lastTransitionTime") if same and prev else None
        out.append({**cond, "lastTransitionTime": when or rfc3339(now)})
    return out


def build_status(
    pod: Json,
    view: PodView,
    plan: Plan,
    *,
    phase: str,
    pod_ip: str,
    host_ip: str,
    start_time: float,
    now: float,
) -> Json:
    """The complete status the agent wants the pod to have."""
    spec = pod.get("spec", {})
    uid = pod["metadata"]["uid"]
    specs = {c["name"]: c for c in [*spec.get("initContainers", []), *spec.get("containers", [])]}
    old = (pod.get("status") or {}).get("conditions") or []
    status: Json = {
        "phase": phase,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": (pod.get("status") or {}).get("startTime") or rfc3339(start_time),
        "conditions": merge_transition_times(conditions(view, plan, phase=phase), old, now=now),
        "containerStatuses": [
            container_status(c, specs[c.name], plan, pod_uid=uid) for c in view.main
        ],
    }
    if view.init:
        status["initContainerStatuses"] = [
            container_status(c, specs[c.name], plan, pod_uid=uid) for c in view.init
        ]
    if plan.failed is not None and phase == "Failed":
        status["reason"] = plan.failed.reason
        status["message"] = plan.failed.message
    return status
