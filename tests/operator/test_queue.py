"""The training queue: who starts, who waits where (pure), the ledger, the plan, the reconciler."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from tests.operator.builders import NOW, condition, kinds, observe, reasons, spec, spec_dict, step
from tests.operator.fake_api import PIPELINES, T0, FakeClock, FakeRest, FakeTimer

from modelpipe.api.v1alpha1 import ConditionType, Reason, RunPhase
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.queue import TrainingQueue
from modelpipe.k8s.reconciler import Reconciler
from modelpipe.main import main
from modelpipe.observed import QueueSeat
from modelpipe.planning.queue import LimitError, Limits, Request, decide, fair_order

JOBS = "/apis/batch/v1/namespaces/ml/jobs"


def req(namespace: str, pipeline: str, *, priority: int = 0, age: int = 0) -> Request:
    return Request(namespace, pipeline, "v1", priority, NOW - timedelta(seconds=age))


# The order (pure)


def test_a_crowded_namespace_does_not_starve_a_quiet_one() -> None:
    crowd = [req("a", f"p{i}", age=100 - i) for i in range(5)]  # all older than b's
    quiet = req("b", "q", age=1)
    order = [(r.namespace, r.pipeline) for r in fair_order([*crowd, quiet], running={})]
    assert order[:3] == [("a", "p0"), ("b", "q"), ("a", "p1")]


def test_running_jobs_count_toward_a_namespaces_share() -> None:
    order = fair_order([req("a", "x", age=9), req("b", "y", age=1)], running={"a": 2})
    assert [r.namespace for r in order] == ["b", "a"]


def test_priority_goes_first_then_age_within_a_namespace() -> None:
    requests = [req("a", "old", age=50), req("a", "urgent", priority=10), req("b", "z", age=60)]
    assert [r.pipeline for r in fair_order(requests, running={})] == ["urgent", "z", "old"]


@pytest.mark.parametrize(
    ("limits", "running", "admitted", "positions"),
    [
        (Limits(cluster=2), {}, {"a/p0", "b/q"}, {"a/p1": 1, "a/p2": 2}),
        # a already runs 3, so b waits ahead of a's older requests.
        (Limits(cluster=3), {"a": 3}, set(), {"b/q": 1, "a/p0": 2, "a/p1": 3, "a/p2": 4}),
        # a is at its own limit: b does not wait behind it.
        (Limits(per_namespace=1), {"a": 1}, {"b/q"}, {"a/p0": 1, "a/p1": 2, "a/p2": 3}),
        (Limits(cluster=10, per_namespace=2), {}, {"a/p0", "a/p1", "b/q"}, {"a/p2": 1}),
    ],
)
def test_admission_within_limits(
    limits: Limits, running: dict[str, int], admitted: set[str], positions: dict[str, int]
) -> None:
    requests = [req("a", f"p{i}", age=100 - i) for i in range(3)] + [req("b", "q", age=1)]
    decision = decide(requests, running, limits)
    assert {f"{ns}/{p}" for ns, p in decision.admitted} == admitted
    assert {f"{ns}/{p}": n for (ns, p), n in decision.positions.items()} == positions


@pytest.mark.parametrize("limits", [{"cluster": 0}, {"per_namespace": 0}, {"cluster": -3}])
def test_a_limit_of_zero_is_refused_with_the_reason(limits: dict[str, int]) -> None:
    with pytest.raises(LimitError, match=r"must be at least 1.*would never start a training Job"):
        Limits(**limits)


def test_the_operator_refuses_a_zero_limit_on_its_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "-A", "--max-training-jobs-per-namespace", "0"]) == 2
    assert "--max-training-jobs-per-namespace must be at least 1, not 0" in capsys.readouterr().err


# The ledger


def ledger(limit: int) -> tuple[TrainingQueue, list[tuple[str, str]]]:
    woken: list[tuple[str, str]] = []
    queue = TrainingQueue(
        Limits(cluster=limit), wake=lambda ns, name: woken.append((ns, name)), seed=dict
    )
    return queue, woken


def test_a_slot_is_taken_at_once_so_two_passes_never_share_the_last_one() -> None:
    queue, _ = ledger(1)
    assert queue.ask(req("a", "x")).position is None
    assert queue.ask(req("b", "y")).position == 1


def test_a_finished_job_wakes_the_next_request_and_it_takes_the_slot() -> None:
    queue, woken = ledger(1)
    queue.ask(req("a", "x"))
    queue.observe(("a", "x"), frozenset({"x-v1"}))
    assert queue.ask(req("b", "y")).position == 1
    queue.observe(("a", "x"), frozenset())  # its Job finished
    assert woken == [("b", "y")]
    assert queue.ask(req("b", "y")).position is None


def test_a_deleted_pipeline_leaves_the_queue_and_frees_its_slot() -> None:
    queue, woken = ledger(1)
    queue.ask(req("a", "x"))
    queue.ask(req("b", "y"))
    queue.ask(req("c", "z"))
    queue.leave(("b", "y"))  # deleted while waiting: c moves up
    assert queue.ask(req("c", "z")).position == 1
    queue.leave(("a", "x"))  # deleted while running: c is woken
    assert woken == [("c", "z")]


def test_new_inputs_replace_the_stale_queued_run_and_keep_its_place() -> None:
    queue, _ = ledger(1)
    queue.ask(req("a", "x"))
    queue.ask(req("b", "y", age=30))
    queue.ask(req("c", "z", age=20))
    newer = Request("b", "y", "v2", 0, NOW)  # b's spec changed: it still goes first
    assert queue.ask(newer).position == 1
    assert queue.waiting() == 2
    queue.withdraw(("b", "y"))  # then reverted to decided inputs: no run at all
    assert queue.ask(req("c", "z", age=20)).position == 1


def test_a_restarted_operator_counts_the_running_jobs_before_it_admits() -> None:
    queue = TrainingQueue(
        Limits(cluster=1),
        wake=lambda ns, name: None,
        seed=lambda: {("a", "x"): frozenset({"x-v1"})},
    )
    assert queue.ask(req("b", "y")).position == 1


# The plan: a Queued run


def queued(position: int = 3) -> QueueSeat:
    return QueueSeat(position=position, waiting=7, limits="at most 2 training Jobs in the cluster")


def test_a_queued_run_starts_no_job_and_says_where_it_stands() -> None:
    planned = step(observe(queue=queued()))
    assert "CreateJob" not in kinds(planned)
    run = planned.status.current_run
    assert run is not None and run.phase == RunPhase.QUEUED and run.queue_position == 3
    assert condition(planned, ConditionType.READY) == ("False", Reason.QUEUED)
    assert condition(planned, ConditionType.TRAINING) == ("False", Reason.QUEUED)
    ready = next(c for c in planned.status.conditions if c.type == ConditionType.READY)
    assert "position 3 of 7 (at most 2 training Jobs in the cluster)" in ready.message
    assert reasons(planned) == [Reason.QUEUED]
    assert planned.requeue_after == 60.0


def test_queued_is_told_once_while_the_position_changes() -> None:
    first = step(observe(queue=queued(3)))
    again = step(observe(status=first.status, queue=queued(2)))
    assert reasons(again) == []
    assert again.status.current_run is not None and again.status.current_run.queue_position == 2


def test_a_suspended_pipeline_is_not_queued() -> None:
    planned = step(observe(spec(suspend=True), queue=queued()))
    assert planned.status.current_run is None


# The reconciler with a fake API: limit 1, three pipelines


def add_pipeline(rest: FakeRest, name: str, *, priority: int = 0, **training: str) -> None:
    estimator = {"className": "sklearn.a.B"}
    body = spec_dict(training={"priority": priority, "estimator": estimator, **training})
    rest.objects[f"{PIPELINES}/{name}"] = {
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}", "generation": 1},
        "spec": copy.deepcopy(body),
    }


def test_the_reconciler_starts_one_job_queues_the_rest_and_the_next_starts_when_it_ends() -> None:
    rest = FakeRest()
    rest.objects["/api/v1/namespaces/ml/persistentvolumeclaims/models"] = {"metadata": {}}
    for name, priority in (("a", 0), ("b", 0), ("c", 5)):
        add_pipeline(rest, name, priority=priority)
    FakeTimer.made = []
    clock = FakeClock()
    rec = Reconciler(
        KubeApi(rest),  # type: ignore[arg-type]
        clock=clock,
        timer=FakeTimer,
        training_limits=Limits(cluster=1),
        namespaces=("ml",),
    )
    for name in ("a", "b", "c"):
        rec.reconcile("ml", name)
        clock.time += timedelta(seconds=1)
    rec.reconcile("ml", "b")  # a position is as of the pipeline's last pass
    assert [j["metadata"]["name"][:2] for j in rest.under(JOBS)] == ["a-"]
    status = {n: rest.objects[f"{PIPELINES}/{n}"]["status"] for n in ("b", "c")}
    assert status["c"]["currentRun"]["queuePosition"] == 1  # priority 5 goes first
    assert status["b"]["currentRun"]["queuePosition"] == 2
    assert status["b"]["currentRun"]["phase"] == "Queued"
    job = rest.under(JOBS)[0]
    rest.objects[f"{JOBS}/{job['metadata']['name']}"]["status"] = {
        "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    }
    rec.reconcile("ml", "a")  # a's Job event: the slot is free, c is woken at once
    wake = [t for t in FakeTimer.made if t.args[:2] == ("ml", "c") and t.delay == 0.0]
    assert len(wake) == 1
    wake[0].fire()
    assert sorted(j["metadata"]["name"][:2] for j in rest.under(JOBS)) == ["a-", "c-"]
    assert rest.objects[f"{PIPELINES}/c"]["status"]["currentRun"]["phase"] == "Pending"
    assert clock.time > T0
