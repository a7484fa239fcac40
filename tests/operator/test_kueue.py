"""Training admission handed to Kueue: the Job, the plan, and the operator's own queue stepping
aside. Real Kueue admits and holds these Jobs in tests/e2e/test_kueue_cluster.py."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError
from tests.operator.builders import (
    NOW,
    condition,
    cycle,
    job,
    kinds,
    observe,
    reasons,
    spec,
    spec_dict,
    step,
    with_,
)
from tests.operator.fake_api import PIPELINES, FakeClock, FakeRest, FakeTimer
from tests.operator.test_queue import add_pipeline

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.v1alpha1 import ConditionType, ModelPipelineSpec, Reason, RunPhase, Verdict
from modelpipe.api.v1alpha1.status import all_runs
from modelpipe.k8s.bodies import JobBody, parse
from modelpipe.k8s.calls import KUEUE_API_VERSION, KubeApi
from modelpipe.k8s.jobs import observe_job
from modelpipe.k8s.queue import TrainingQueue, running_training_jobs, take_seat
from modelpipe.k8s.reconciler import Reconciler
from modelpipe.layout import KUEUE_PRIORITY_LABEL, KUEUE_QUEUE_LABEL
from modelpipe.observed import JobPhase, KueueQueue, Observed
from modelpipe.planning.outcome import CreateJob
from modelpipe.planning.queue import Limits, Request

JOBS = "/apis/batch/v1/namespaces/ml/jobs"
LOCAL_QUEUES = f"/apis/{KUEUE_API_VERSION}/namespaces/ml/localqueues"
TEAM = KueueQueue(name="team", exists=True, cluster_queue="shared", pending=2)


def kueue_spec(queue: str = "team") -> ModelPipelineSpec:
    return spec(training={**spec_dict()["training"], "queueName": queue})


def kueue_world(queue: KueueQueue = TEAM) -> Observed:
    return replace(observe(kueue_spec(queue.name)), kueue=queue)


def created_job(planned: object) -> dict[str, object]:
    return next(a.manifest for a in planned.actions if isinstance(a, CreateJob))  # type: ignore[attr-defined]


def test_the_job_is_created_suspended_with_kueues_label_on_the_job_alone() -> None:
    manifest = created_job(step(kueue_world()))
    assert manifest["spec"]["suspend"] is True  # type: ignore[index]
    assert manifest["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team"  # type: ignore[index]
    pod_labels = manifest["spec"]["template"]["metadata"]["labels"]  # type: ignore[index]
    assert KUEUE_QUEUE_LABEL not in pod_labels  # Kueue's pod integration must not take them


def test_without_a_queue_name_the_job_is_neither_suspended_nor_labelled() -> None:
    manifest = created_job(step(observe()))
    assert "suspend" not in manifest["spec"]  # type: ignore[operator]
    assert KUEUE_QUEUE_LABEL not in manifest["metadata"]["labels"]  # type: ignore[index]


def test_the_queue_name_is_not_an_input_so_naming_one_retrains_nothing() -> None:
    before = step(observe()).status.inputs
    after = step(kueue_world()).status.inputs
    assert before is not None and after is not None and before.hash == after.hash


@pytest.mark.parametrize("bad", ["Team", "a_b", "-x", "x" * 64])
def test_a_queue_name_that_is_no_label_value_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"queue_?[nN]ame"):
        spec(training={"estimator": {"className": "sklearn.a.B"}, "queueName": bad})


def test_a_missing_local_queue_starts_no_job_and_says_so_once() -> None:
    world = kueue_world(KueueQueue(name="nope", exists=False))
    planned = step(world)
    assert "CreateJob" not in kinds(planned)
    assert condition(planned, ConditionType.READY) == ("False", Reason.QUEUE_NOT_FOUND)
    assert condition(planned, ConditionType.TRAINING) == ("False", Reason.QUEUE_NOT_FOUND)
    assert reasons(planned) == [Reason.QUEUE_NOT_FOUND]
    message = next(c.message for c in planned.status.conditions if c.type == ConditionType.READY)
    assert "LocalQueue nope not found in namespace ml" in message
    assert planned.requeue_after == 30.0  # a LocalQueue created later is found
    again = step(with_(world, status=planned.status))
    assert reasons(again) == [] and "CreateJob" not in kinds(again)


def suspended_world(queue: KueueQueue = TEAM) -> tuple[Observed, str]:
    first = kueue_world(queue)
    created = created_job(step(first))
    name = str(created["metadata"]["name"])  # type: ignore[index]
    version = name.rsplit("-", 1)[1]
    waiting = replace(
        job(version, JobPhase.ACTIVE, queue_name="team", suspended=True), start_time=None
    )
    return cycle(first, jobs=(waiting,)), version


def test_a_suspended_job_is_queued_in_kueue_and_told_once() -> None:
    world, version = suspended_world()
    planned = step(world)
    run = planned.status.current_run
    assert run is not None and run.phase == RunPhase.QUEUED and run.model_version == version
    assert run.queue_position is None  # Kueue's order, not ours
    assert condition(planned, ConditionType.TRAINING) == ("False", Reason.QUEUED)
    assert condition(planned, ConditionType.READY) == ("False", Reason.QUEUED)
    training = next(c for c in planned.status.conditions if c.type == ConditionType.TRAINING)
    assert "LocalQueue team, ClusterQueue shared, 2 pending" in training.message
    assert kinds(planned) == [] and reasons(planned) == [Reason.QUEUED]
    assert reasons(step(with_(world, status=planned.status))) == []


def test_a_job_whose_local_queue_went_away_stays_suspended_with_queue_not_found() -> None:
    world, _ = suspended_world()
    planned = step(with_(world, kueue=KueueQueue(name="team", exists=False)))
    assert kinds(planned) == []  # nothing unsuspends it, nothing deletes it
    assert condition(planned, ConditionType.TRAINING) == ("False", Reason.QUEUE_NOT_FOUND)
    assert planned.status.current_run is not None
    assert planned.status.current_run.phase == RunPhase.QUEUED


def test_once_kueue_admits_the_job_it_runs_like_any_other() -> None:
    world, version = suspended_world()
    queued = step(world)
    admitted = job(version, JobPhase.ACTIVE, queue_name="team")
    planned = step(with_(world, status=queued.status, jobs=(admitted,)))
    run = planned.status.current_run
    assert run is not None and run.phase == RunPhase.RUNNING
    assert condition(planned, ConditionType.TRAINING) == ("True", Reason.JOB_RUNNING)
    record = next(r for r in all_runs(planned.status) if r.model_version == version)
    assert record.verdict == Verdict.RUNNING


# The operator's own queue steps aside


def test_the_operators_queue_neither_holds_nor_counts_kueues_jobs() -> None:
    queue = TrainingQueue(Limits(cluster=1), wake=lambda ns, name: None)
    queue.observe(("ml", "other"), frozenset({"other-v1"}))  # the one slot is taken
    world = kueue_world()
    observed, planned = take_seat(queue, world, step(world), now=NOW)
    assert observed.queue is None and "CreateJob" in kinds(planned) and queue.waiting() == 0
    running, _ = suspended_world()
    admitted = replace(running, jobs=(replace(running.jobs[0], suspended=False),))
    take_seat(queue, admitted, step(admitted), now=NOW)  # Kueue let it run
    queue.observe(("ml", "other"), frozenset())  # other's Job ends
    late = Request(namespace="ml", pipeline="late", version="v1", priority=0, since=NOW)
    assert queue.ask(late).position is None  # the slot is free: Kueue's Job is not counted


def test_a_restart_does_not_count_kueues_running_jobs() -> None:
    labelled: dict[str, Any] = {
        "metadata": {
            "name": "iris-1",
            "namespace": "ml",
            "labels": {"modelpipe.io/pipeline": "iris", KUEUE_QUEUE_LABEL: "team"},
        },
        "status": {},
    }
    ours = copy.deepcopy(labelled)
    ours["metadata"]["labels"].pop(KUEUE_QUEUE_LABEL)
    ours["metadata"]["name"] = "own-1"
    ours["metadata"]["labels"]["modelpipe.io/pipeline"] = "own"
    rest = FakeRest()
    rest.objects[f"{JOBS}/iris-1"], rest.objects[f"{JOBS}/own-1"] = labelled, ours
    assert running_training_jobs(KubeApi(rest), ("ml",)) == {("ml", "own"): frozenset({"own-1"})}  # type: ignore[arg-type]


def test_a_suspended_job_is_read_as_suspended_with_its_queue() -> None:
    body = {
        "metadata": {"name": "iris-1", "labels": {KUEUE_QUEUE_LABEL: "team"}},
        "spec": {"suspend": True},
        "status": {},
    }
    job = parse(JobBody, body)
    seen = observe_job(KubeApi(FakeRest()), job, namespace="ml", read_pods=False)  # type: ignore[arg-type]
    assert seen.suspended and seen.queue_name == "team" and seen.phase == JobPhase.ACTIVE


# The reconciler on a fake API: the LocalQueue is read in the pipeline's namespace


def test_the_reconciler_creates_suspended_jobs_past_a_full_operator_queue_only_into_kueue() -> None:
    rest = FakeRest()
    rest.objects["/api/v1/namespaces/ml/persistentvolumeclaims/models"] = {"metadata": {}}
    rest.objects[f"{LOCAL_QUEUES}/team"] = {"spec": {"clusterQueue": "shared"}, "status": {}}
    add_pipeline(rest, "a", queueName="team")
    add_pipeline(rest, "b", queueName="team")
    add_pipeline(rest, "c", queueName="missing")
    rec = Reconciler(
        KubeApi(rest),  # type: ignore[arg-type]
        clock=FakeClock(),
        timer=FakeTimer,
        training_limits=Limits(cluster=1),
        namespaces=("ml",),
    )
    for name in ("a", "b", "c"):
        rec.reconcile("ml", name)
    jobs = rest.under(JOBS)
    assert sorted(j["metadata"]["name"][:2] for j in jobs) == ["a-", "b-"]  # not held by ours
    assert all(j["spec"]["suspend"] is True for j in jobs)
    status = rest.objects[f"{PIPELINES}/c"]["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "QueueNotFound"


# A suspended Job in a queue the spec no longer names; the chart's kueue switch and default queue


@pytest.mark.parametrize(
    ("now_named", "queue"),
    [(None, None), ("other", KueueQueue(name="other", exists=True))],
)
def test_a_suspended_job_in_a_queue_no_longer_named_goes_and_the_run_starts_again(
    now_named: str | None, queue: KueueQueue | None
) -> None:
    """queueName removed (or Kueue switched off) or renamed: the Job never ran, so it is
    deleted and made again for where the run now goes; it is not left Queued forever."""
    world, version = suspended_world()
    moved = replace(
        world, spec=spec(training={**spec_dict()["training"], "queueName": now_named}), kueue=queue
    )
    planned = step(moved)
    assert kinds(planned) == ["DeleteJob"] and reasons(planned) == [Reason.JOB_SUPERSEDED]
    assert "waits in LocalQueue team" in planned.events[0].message
    assert condition(planned, ConditionType.TRAINING) == ("False", Reason.QUEUED)
    gone = with_(moved, status=planned.status, jobs=())
    made = created_job(step(gone))
    assert made["metadata"]["name"] == f"iris-{version}"  # type: ignore[index]
    labels = made["metadata"]["labels"]  # type: ignore[index]
    assert labels.get(KUEUE_QUEUE_LABEL) == now_named
    assert ("suspend" in made["spec"]) is (now_named is not None)  # type: ignore[operator]


def parse_spec(config: OperatorConfig, **training: Any) -> ModelPipelineSpec:
    body = spec_dict(training={**spec_dict()["training"], **training})
    return ModelPipelineSpec.model_validate(body, context=config)


def test_the_default_queue_is_used_only_where_a_pipeline_names_none() -> None:
    default = OperatorConfig(default_queue="batch")
    assert parse_spec(default).training.queue_name == "batch"
    assert parse_spec(default, queueName="team").training.queue_name == "team"
    assert parse_spec(UNCONFIGURED).training.queue_name is None


def test_without_kueue_a_queue_name_is_refused_and_the_default_ignored() -> None:
    off = OperatorConfig(kueue=False, default_queue="batch")
    assert parse_spec(off).training.queue_name is None
    with pytest.raises(ValidationError, match=r"queueName team: .*kueue.enabled=false"):
        parse_spec(off, queueName="team")


class Recording(FakeRest):
    """The fake API, noting every path asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.paths.append(path)
        return super().request(method, path, **kwargs)


def recorded(config: OperatorConfig) -> tuple[Recording, Reconciler]:
    """A reconciler for namespace ml (its PVC there) on a fake API that notes each path."""
    rest = Recording()
    rest.objects["/api/v1/namespaces/ml/persistentvolumeclaims/models"] = {"metadata": {}}
    reconciler = Reconciler(
        KubeApi(rest),  # type: ignore[arg-type]
        clock=FakeClock(),
        timer=FakeTimer,
        namespaces=("ml",),
        config=config,
    )
    return rest, reconciler


def test_without_kueue_a_pipeline_naming_a_queue_gets_invalid_spec_and_no_queue_is_read() -> None:
    rest, rec = recorded(OperatorConfig(kueue=False))
    reads = rest.paths
    add_pipeline(rest, "a", queueName="team")
    rec.reconcile("ml", "a")
    assert rest.under(JOBS) == []
    ready = next(
        c for c in rest.objects[f"{PIPELINES}/a"]["status"]["conditions"] if c["type"] == "Ready"
    )
    assert ready["reason"] == "InvalidSpec" and "kueue.enabled=false" in ready["message"]
    assert not [p for p in reads if "localqueues" in p]


def test_the_local_queue_is_read_only_for_a_job_due_or_suspended_not_on_every_pass() -> None:
    rest, rec = recorded(UNCONFIGURED)
    reads = rest.paths
    rest.objects[f"{LOCAL_QUEUES}/team"] = {"spec": {"clusterQueue": "shared"}, "status": {}}
    add_pipeline(rest, "a", queueName="team")

    def queue_reads() -> int:
        return sum("localqueues" in p for p in reads)

    rec.reconcile("ml", "a")  # the Job is due: the queue is read before it is made
    (made,) = rest.under(JOBS)
    assert made["spec"]["suspend"] is True and queue_reads() == 1
    rec.reconcile("ml", "a")  # suspended: read for its status line
    assert queue_reads() == 2
    made["spec"]["suspend"] = False  # Kueue admitted it
    rest.objects[f"{JOBS}/{made['metadata']['name']}"] = made
    rec.reconcile("ml", "a")
    rec.reconcile("ml", "a")
    assert queue_reads() == 2


# WorkloadPriorityClass: only one the platform allows, and only through a queue

ALLOWS_HIGH = OperatorConfig(workload_priority_classes=frozenset({"high"}))


def test_an_allowed_workload_priority_class_goes_on_the_kueue_job() -> None:
    chosen = parse_spec(ALLOWS_HIGH, queueName="team", workloadPriorityClassName="high")
    manifest = created_job(step(replace(observe(chosen), kueue=TEAM)))
    assert manifest["metadata"]["labels"][KUEUE_PRIORITY_LABEL] == "high"  # type: ignore[index]
    pod_labels = manifest["spec"]["template"]["metadata"]["labels"]  # type: ignore[index]
    assert KUEUE_PRIORITY_LABEL not in pod_labels
    plain = created_job(step(kueue_world()))
    assert KUEUE_PRIORITY_LABEL not in plain["metadata"]["labels"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("config", "training", "message"),
    [
        (UNCONFIGURED, {"queueName": "team", "workloadPriorityClassName": "high"}, "allowed: none"),
        (ALLOWS_HIGH, {"queueName": "team", "workloadPriorityClassName": "top"}, "allowed: high"),
        (ALLOWS_HIGH, {"workloadPriorityClassName": "high"}, "needs a Kueue queue"),
    ],
)
def test_a_tenant_cannot_pick_a_workload_priority_class_the_platform_did_not_allow(
    config: OperatorConfig, training: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_spec(config, **training)
