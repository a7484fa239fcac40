"""The pod's brain: which containers to start now, which wait, and the pod phase.

Pure and level-triggered: every pass rebuilds the decision from what the runtime
observes (the run records on disk), never from what the agent decided earlier.

State machine of one container (``restartPolicy`` decides the edge out of Exited)::

    never run --start--> Running --exit--> Exited --restart allowed--> (back-off) --> Running
                                             \\--no restart-----------> stays Exited

Init containers run one at a time, in order; an init container restarts on failure
unless the pod's policy is ``Never`` (then the pod fails). App containers start once
every init container exited 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from localkube.agent.envvars import Blocked

MAX_BACKOFF = 300.0
INITIAL_BACKOFF = 10.0
RESET_AFTER = 600.0


@dataclass(frozen=True)
class Exited:
    """One finished run of a container."""

    exit_code: int
    reason: str
    message: str
    started_at: float
    finished_at: float
    signal: int | None = None


@dataclass(frozen=True)
class ContainerView:
    """What the runtime knows about one container of the pod."""

    name: str
    runs: int = 0  # number of runs started so far (the next one gets this index)
    running_since: float | None = None
    creating: bool = False  # its shim is setting up; the process has not started yet
    last: Exited | None = None  # the latest finished run, when nothing runs now
    previous: Exited | None = None  # the finished run before the current/latest one
    ready: bool = False
    started: bool = False
    blocked: Blocked | None = None

    @property
    def alive(self) -> bool:
        return self.running_since is not None or self.creating

    @property
    def restart_count(self) -> int:
        return max(self.runs - 1, 0)


@dataclass(frozen=True)
class PodView:
    """The gathered state of one pod, the single input of :func:`plan_pod`."""

    restart_policy: str
    init: tuple[ContainerView, ...]
    main: tuple[ContainerView, ...]
    blocked: Blocked | None = None  # pod-level (volumes); keeps every container waiting


@dataclass(frozen=True)
class Plan:
    """The decision: containers to start, waiting reasons, phase, next wake-up."""

    start: tuple[str, ...] = ()
    waiting: dict[str, Blocked] = field(default_factory=dict)
    phase: str = "Pending"
    initialized: bool = False
    wake_at: float | None = None
    failed: Blocked | None = None


def backoff_delay(restarts: int, *, last_run_seconds: float) -> float:
    """Seconds to wait before restart number ``restarts + 1``.

    Like the kubelet: the first restart is immediate, then 10 s doubling to 5 min;
    a run that lasted 10 minutes resets the back-off.
    """
    if restarts == 0 or last_run_seconds >= RESET_AFTER:
        return 0.0
    return float(min(INITIAL_BACKOFF * 2 ** (restarts - 1), MAX_BACKOFF))


def wants_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _restart_or_wait(
    c: ContainerView, *, pod_name: str, now: float
) -> tuple[bool, Blocked | None, float | None]:
    """Restart now, or wait in CrashLoopBackOff until the returned time."""
    assert c.last is not None
    ran_for = c.last.finished_at - c.last.started_at
    delay = backoff_delay(c.restart_count, last_run_seconds=ran_for)
    due = c.last.finished_at + delay
    if now >= due:
        return True, None, None
    message = f"back-off {int(delay)}s restarting failed container={c.name} pod={pod_name}"
    return False, Blocked("CrashLoopBackOff", message), due


def plan_pod(view: PodView, *, now: float, pod_name: str = "") -> Plan:
    """Decide one pass for the pod (see the module docstring for the rules)."""
    if view.blocked is not None:
        names = (c.name for c in (*view.init, *view.main))
        return Plan(waiting=dict.fromkeys(names, view.blocked))
    return _plan_init(view, now=now, pod_name=pod_name) or _plan_main(
        view, now=now, pod_name=pod_name
    )


def _plan_init(view: PodView, *, now: float, pod_name: str) -> Plan | None:
    """The plan while an init container is unfinished; ``None`` once all exited 0."""
    for i, c in enumerate(view.init):
        if c.last is not None and c.last.exit_code == 0 and not c.alive:
            continue
        later = (*view.init[i + 1 :], *view.main)
        waiting = {x.name: Blocked("PodInitializing", "") for x in later}
        if c.alive:
            return Plan(waiting=waiting)
        if c.blocked is not None:
            return Plan(waiting={**waiting, c.name: c.blocked})
        if c.last is None:
            return Plan(start=(c.name,), waiting=waiting)
        if view.restart_policy == "Never":
            msg = f"init container {c.name} failed with exit code {c.last.exit_code}"
            return Plan(waiting=waiting, phase="Failed", failed=Blocked("Error", msg))
        go, why, due = _restart_or_wait(c, pod_name=pod_name, now=now)
        if go:
            return Plan(start=(c.name,), waiting=waiting)
        assert why is not None
        return Plan(waiting={**waiting, c.name: why}, wake_at=due)
    return None


def _plan_main(view: PodView, *, now: float, pod_name: str) -> Plan:
    start: list[str] = []
    waiting: dict[str, Blocked] = {}
    wake: list[float] = []
    for c in view.main:
        if c.alive:
            continue
        if c.last is not None and not wants_restart(view.restart_policy, c.last.exit_code):
            continue
        go, why, due = (
            (True, None, None)
            if c.last is None
            else _restart_or_wait(c, pod_name=pod_name, now=now)
        )
        if go and c.blocked is None:
            start.append(c.name)
        elif go and c.blocked is not None:
            waiting[c.name] = c.blocked
        elif why is not None and due is not None:
            waiting[c.name] = why
            wake.append(due)
    return Plan(
        start=tuple(start),
        waiting=waiting,
        phase=main_phase(view),
        initialized=True,
        wake_at=min(wake) if wake else None,
    )


def main_phase(view: PodView) -> str:
    """The pod phase once init containers are done (kubelet's getPhase, simplified)."""
    never_ran = [c for c in view.main if c.running_since is None and c.last is None]
    if never_ran:
        return "Pending"
    if any(c.running_since is not None for c in view.main):
        return "Running"
    exits = [c.last.exit_code for c in view.main if c.last is not None]
    if any(wants_restart(view.restart_policy, code) for code in exits):
        return "Running"
    return "Succeeded" if all(code == 0 for code in exits) else "Failed"


def terminal_phase_after_kill(view: PodView) -> str:
    """Phase reported once a deleted pod's containers stopped (kubelet >= 1.27)."""
    exits = [c.last.exit_code for c in view.main if c.last is not None]
    return "Succeeded" if exits and all(code == 0 for code in exits) else "Failed"
