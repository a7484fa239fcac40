"""The agent's decision rules, state in -> decision out (no cluster, no processes)."""

from __future__ import annotations

import pytest

from localkube.agent.envvars import Blocked
from localkube.agent.lifecycle import (
    ContainerView,
    Exited,
    PodView,
    backoff_delay,
    plan_pod,
    terminal_phase_after_kill,
)
from localkube.agent.podstatus import build_status, merge_transition_times
from localkube.agent.probestate import ProbeState, parse_probe, record, resolve_port

NOW = 1000.0


def exited(code: int, *, start: float = 900.0, end: float = 990.0) -> Exited:
    return Exited(code, "Completed" if code == 0 else "Error", "", start, end)


def running(name: str, *, runs: int = 1, ready: bool = True) -> ContainerView:
    return ContainerView(name, runs=runs, running_since=900.0, ready=ready, started=True)


def done(name: str, code: int, *, runs: int = 1, end: float = 990.0) -> ContainerView:
    return ContainerView(name, runs=runs, last=exited(code, end=end))


def view(
    *main: ContainerView, init: tuple[ContainerView, ...] = (), policy: str = "Never"
) -> PodView:
    return PodView(restart_policy=policy, init=init, main=main)


@pytest.mark.parametrize(
    ("restarts", "ran_for", "delay"),
    [(0, 1, 0), (1, 1, 10), (2, 1, 20), (3, 1, 40), (10, 1, 300), (5, 600, 0)],
)
def test_backoff_delay_doubles_to_five_minutes_and_resets(
    restarts: int, ran_for: float, delay: float
) -> None:
    assert backoff_delay(restarts, last_run_seconds=ran_for) == delay


@pytest.mark.parametrize(
    ("pod", "start", "phase"),
    [
        (view(ContainerView("a")), ("a",), "Pending"),
        (view(running("a")), (), "Running"),
        (view(done("a", 0)), (), "Succeeded"),
        (view(done("a", 1)), (), "Failed"),
        (view(done("a", 0), done("b", 2)), (), "Failed"),
        (view(done("a", 1), policy="OnFailure"), ("a",), "Running"),
        (view(done("a", 0), policy="OnFailure"), (), "Succeeded"),
        (view(done("a", 0), policy="Always"), ("a",), "Running"),
        (view(running("a"), done("b", 0)), (), "Running"),
    ],
)
def test_restart_policy_decides_starts_and_phase(
    pod: PodView, start: tuple[str, ...], phase: str
) -> None:
    plan = plan_pod(pod, now=NOW)
    assert (plan.start, plan.phase) == (start, phase)


def test_second_crash_waits_in_crash_loop_back_off() -> None:
    pod = view(done("a", 1, runs=2, end=995.0), policy="Always")
    plan = plan_pod(pod, now=NOW, pod_name="p_ns(u)")
    assert plan.start == ()
    assert plan.waiting["a"].reason == "CrashLoopBackOff"
    assert "back-off 10s" in plan.waiting["a"].message
    assert plan.wake_at == 1005.0
    assert plan_pod(pod, now=1005.0).start == ("a",)


def test_init_containers_run_one_at_a_time_before_the_app() -> None:
    pending = plan_pod(
        view(ContainerView("app"), init=(ContainerView("i1"), ContainerView("i2"))), now=NOW
    )
    assert pending.start == ("i1",)
    assert pending.waiting["app"].reason == "PodInitializing"
    second = plan_pod(
        view(ContainerView("app"), init=(done("i1", 0), ContainerView("i2"))), now=NOW
    )
    assert second.start == ("i2",) and not second.initialized
    app = plan_pod(view(ContainerView("app"), init=(done("i1", 0), done("i2", 0))), now=NOW)
    assert app.start == ("app",) and app.initialized


def test_failed_init_container_fails_a_never_pod_and_retries_otherwise() -> None:
    failed = plan_pod(view(ContainerView("app"), init=(done("i", 1),)), now=NOW)
    assert failed.phase == "Failed" and failed.failed is not None
    retried = plan_pod(
        view(ContainerView("app"), init=(done("i", 1),), policy="OnFailure"), now=NOW
    )
    assert retried.start == ("i",)


def test_blocked_container_waits_and_pod_level_block_holds_everything() -> None:
    why = Blocked("CreateContainerConfigError", 'configmap "x" not found')
    plan = plan_pod(view(ContainerView("a", blocked=why), ContainerView("b")), now=NOW)
    assert plan.start == ("b",) and plan.waiting["a"] == why
    held = plan_pod(PodView("Never", (), (ContainerView("a"),), blocked=why), now=NOW)
    assert held.start == () and held.waiting["a"] == why


def test_deleted_pod_phase() -> None:
    assert terminal_phase_after_kill(view(done("a", 0))) == "Succeeded"
    assert terminal_phase_after_kill(view(done("a", 143))) == "Failed"


def _pod() -> dict[str, object]:
    return {
        "metadata": {"uid": "u1", "name": "p", "namespace": "ns"},
        "spec": {
            "containers": [{"name": "a", "image": "python"}, {"name": "b", "image": "python"}]
        },
        "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]},
    }


def test_status_reports_states_ready_and_conditions() -> None:
    pod_view = view(running("a", runs=2, ready=True), running("b", ready=False))
    pod_view = PodView("Always", (), (pod_view.main[0], pod_view.main[1]))
    plan = plan_pod(pod_view, now=NOW)
    status = build_status(
        _pod(),
        pod_view,
        plan,
        phase="Running",
        pod_ip="127.1.0.2",
        host_ip="127.0.0.1",
        start_time=NOW,
        now=NOW,
    )
    a, b = status["containerStatuses"]
    assert a["restartCount"] == 1 and a["ready"] is True and "running" in a["state"]
    assert b["ready"] is False
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["status"] == "False"
    assert conds["Ready"]["message"] == "containers with unready status: [b]"
    assert status["podIP"] == "127.1.0.2" and status["podIPs"] == [{"ip": "127.1.0.2"}]


def test_terminated_status_carries_exit_code_and_message() -> None:
    last = Exited(3, "Error", "model rejected", 900.0, 990.0)
    pod_view = view(ContainerView("a", runs=1, last=last), done("b", 0))
    status = build_status(
        _pod(),
        pod_view,
        plan_pod(pod_view, now=NOW),
        phase="Failed",
        pod_ip="127.1.0.2",
        host_ip="127.0.0.1",
        start_time=NOW,
        now=NOW,
    )
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"], term["message"]) == (3, "Error", "model rejected")


def test_transition_time_is_kept_while_status_is_unchanged() -> None:
    old = [{"type": "Ready", "status": "True", "lastTransitionTime": "then"}]
    same = merge_transition_times([{"type": "Ready", "status": "True"}], old, now=NOW)
    flipped = merge_transition_times([{"type": "Ready", "status": "False"}], old, now=NOW)
    assert same[0]["lastTransitionTime"] == "then"
    assert flipped[0]["lastTransitionTime"] != "then"


def test_probe_result_flips_only_at_thresholds() -> None:
    spec = parse_probe(
        "readiness", {"tcpSocket": {"port": 80}, "successThreshold": 2, "failureThreshold": 2}
    )
    assert spec is not None
    state = ProbeState()
    results = []
    for ok in (True, True, False, True, False, False):
        state = record(state, ok, spec)
        results.append(state.result)
    assert results == [None, True, True, True, True, False]


def test_probe_defaults_and_named_ports() -> None:
    spec = parse_probe("liveness", {"httpGet": {"port": "http"}})
    assert spec is not None
    assert (spec.period, spec.timeout, spec.failure_threshold, spec.success_threshold) == (
        10,
        1,
        3,
        1,
    )
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port("http", container) == 8080
    assert resolve_port(81, container) == 81
    assert resolve_port("nope", container) is None


def test_container_whose_shim_is_starting_is_not_started_again_nor_running() -> None:
    creating = view(ContainerView("a", runs=1, creating=True), policy="Always")
    plan = plan_pod(creating, now=NOW)
    assert (plan.start, plan.phase) == ((), "Pending")
    status = build_status(
        _pod(),
        creating,
        plan,
        phase=plan.phase,
        pod_ip="127.1.0.2",
        host_ip="127.0.0.1",
        start_time=NOW,
        now=NOW,
    )
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
