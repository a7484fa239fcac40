"""The typed views of what the operator reads, on the apiserver's own answers and on broken ones.

Every object in ``recorded/`` (a real v1.35 apiserver's Jobs, pods, Deployment, Service,
HPA, ServiceAccount and PVC) is parsed, then mutated one field at a time: a field left
out or sent as ``null`` takes its default and every reader of that view still answers;
a field of the wrong type is an :class:`UnreadableBody` naming the object and the field.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from tests.operator.fake_api import FakeClock, FakeRest, FakeTimer, cluster_with
from tests.operator.recorded.exchanges import load

from modelpipe.api.v1alpha1 import Metadata
from modelpipe.k8s.analysis import read_pod_metrics
from modelpipe.k8s.bodies import (
    DeploymentBody,
    JobBody,
    LocalQueueBody,
    ObjectBody,
    PodBody,
    UnreadableBody,
    parse,
)
from modelpipe.k8s.calls import KUEUE_API_VERSION, KubeApi
from modelpipe.k8s.gather import _deployment
from modelpipe.k8s.jobevents import JobEvents
from modelpipe.k8s.jobs import observe_job, with_pod_report
from modelpipe.k8s.pvcdata import result_from
from modelpipe.k8s.reconciler import Reconciler
from modelpipe.k8s.rollout import summarise_pods
from modelpipe.layout import MODEL_VERSION_LABEL, PIPELINE_LABEL
from modelpipe.observed import JobPhase, ObservedJob

ANSWERS = [e["answer"] for e in load("observe_fresh")["exchanges"]]
JOBS = next(a["items"] for a in ANSWERS if a.get("kind") == "JobList")
PODS = [p for a in ANSWERS if a.get("kind") == "PodList" for p in a["items"]]
(DEPLOYMENT,) = [a for a in ANSWERS if a.get("kind") == "Deployment"]
_READ_FOR_METADATA = (
    "Service",
    "HorizontalPodAutoscaler",
    "PersistentVolumeClaim",
    "ServiceAccount",
)
OTHERS = [a for a in ANSWERS if a.get("kind") in _READ_FOR_METADATA]
# Kueue v0.17's answer for a LocalQueue (only the fields the operator reads differ from it).
LOCAL_QUEUE = {
    "apiVersion": KUEUE_API_VERSION,
    "kind": "LocalQueue",
    "metadata": {"name": "team", "namespace": "ml", "uid": "lq-1", "generation": 1},
    "spec": {"clusterQueue": "cluster", "stopPolicy": "None"},
    "status": {"pendingWorkloads": 2, "admittedWorkloads": 1, "conditions": []},
}
META = Metadata(name="iris", namespace="recorded", uid="u", generation=1)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of a JSON document (list items by index)."""
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _mutated(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy with ``path`` deleted (``value`` is ``...``) or set to ``value``."""
    copied = copy.deepcopy(document)
    node = copied
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copied


def _read_all(model: type[Any], body: Any) -> None:
    """Parse ``body`` and run every reader of that view on it."""
    view = parse(model, body)
    api = KubeApi(FakeRest())  # type: ignore[arg-type]
    if isinstance(view, JobBody):
        observe_job(api, view, namespace="ml", read_pods=False)
        result_from(view, [])
        JobEvents().worth_a_pass(namespace="ml", body=body, deleted=False)
    elif isinstance(view, PodBody):
        job = ObservedJob(name="iris-1", model_version="v1", phase=JobPhase.FAILED)
        with_pod_report(job, [view])
        summarise_pods([view], version=None)
        read_pod_metrics([view], port=8080, fetch=lambda _: "")
    elif isinstance(view, DeploymentBody):
        _deployment(view, meta=META)


_STRING_MAPS = {"labels", "annotations", "matchLabels", "nodeSelector"}
CASES = [(JobBody, j) for j in JOBS] + [(PodBody, p) for p in PODS] + [(DeploymentBody, DEPLOYMENT)]


def test_the_recorded_answers_read_as_recorded() -> None:
    jobs = [parse(JobBody, j) for j in JOBS]
    assert {j.metadata.name for j in jobs} == {j["metadata"]["name"] for j in JOBS}
    running = [j.metadata.labels[MODEL_VERSION_LABEL] for j in jobs if not j.finished]
    assert running == [load("observe_fresh")["world"]["running"]]
    deployment = parse(DeploymentBody, DEPLOYMENT)
    assert deployment.spec.replicas == DEPLOYMENT["spec"]["replicas"]
    assert deployment.spec.selector.match_labels == DEPLOYMENT["spec"]["selector"]["matchLabels"]
    assert [c.name for c in deployment.spec.template.spec.containers] == ["serve"]
    for other in OTHERS:
        assert parse(ObjectBody, other).metadata.uid == other["metadata"]["uid"]
    queue = parse(LocalQueueBody, LOCAL_QUEUE)
    assert (queue.spec.cluster_queue, queue.status.pending_workloads) == ("cluster", 2)
    trained = [p for p in map(lambda p: parse(PodBody, p), PODS) if p.status.container_statuses]
    assert any(s.terminated is not None for p in trained for s in p.status.container_statuses)


@pytest.mark.parametrize(("model", "body"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_a_field_left_out_or_null_takes_its_default(model: type[Any], body: Any) -> None:
    """Every key path of a recorded object, removed and then set to null: still readable."""
    for path in _paths(body):
        # A map[string]string's values (labels, annotations, selectors) and a list's
        # items are never null in the API's types; only removed.
        never_null = isinstance(path[-1], int) or (len(path) > 1 and path[-2] in _STRING_MAPS)
        for value in (...,) if never_null else (..., None):
            _read_all(model, _mutated(body, path, value))


def test_defaults_of_an_empty_answer() -> None:
    deployment = parse(DeploymentBody, {"metadata": None, "spec": None, "status": None})
    assert deployment.spec.replicas == 1  # the apiserver's default
    assert deployment.status.conditions == () and deployment.spec.selector.match_labels == {}
    job = parse(JobBody, {})
    assert not job.finished and job.status.start_time is None and job.spec.suspend is None
    queue = parse(LocalQueueBody, {"status": {"pendingWorkloads": None}})
    assert queue.status.pending_workloads == 0


@pytest.mark.parametrize(
    ("model", "body", "path", "value", "says"),
    [
        (DeploymentBody, DEPLOYMENT, ("spec", "replicas"), "many", "spec.replicas"),
        (DeploymentBody, DEPLOYMENT, ("status", "conditions"), "Available", "status.conditions"),
        (DeploymentBody, DEPLOYMENT, ("metadata", "annotations"), ["a"], "metadata.annotations"),
        (JobBody, JOBS[0], ("status", "conditions", 0), "Complete", "status.conditions.0"),
        (JobBody, JOBS[0], ("metadata", "ownerReferences"), {"uid": 1}, "ownerReferences"),
        (JobBody, JOBS[0], ("status",), [], "status"),
        (PodBody, PODS[0], ("status", "containerStatuses", 0, "restartCount"), "x", "restartCount"),
        (LocalQueueBody, LOCAL_QUEUE, ("status", "pendingWorkloads"), "two", "pendingWorkloads"),
    ],
)
def test_a_field_of_the_wrong_type_names_the_object_and_the_field(
    model: type[Any], body: Any, path: tuple[Any, ...], value: Any, says: str
) -> None:
    with pytest.raises(UnreadableBody) as error:
        parse(model, _mutated(body, path, value))
    message = str(error.value)
    kind = model.__name__.removesuffix("Body")
    assert message.startswith(f"{kind} {body['metadata']['name']} is unreadable: ")
    assert says in message


def test_an_answer_that_is_not_an_object_is_unreadable_too() -> None:
    with pytest.raises(UnreadableBody, match=r"^Job \? is unreadable"):
        parse(JobBody, ["not", "a", "Job"])  # type: ignore[arg-type]


def test_a_pass_over_an_unreadable_object_fails_with_its_name_and_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """kopf's handlers get the error (kopf retries); a requeued pass logs it in one line."""
    rest, api = cluster_with({})
    labels = {PIPELINE_LABEL: "iris"}
    bad = {"metadata": {"name": "iris-1", "labels": labels}, "status": {"startTime": 5}}
    rest.objects["/apis/batch/v1/namespaces/ml/jobs/iris-1"] = bad
    passes = Reconciler(api, clock=FakeClock(), timer=FakeTimer)
    with pytest.raises(UnreadableBody, match=r"^Job iris-1 is unreadable: status\.startTime"):
        passes.reconcile("ml", "iris")
    with caplog.at_level(logging.WARNING, logger="modelpipe.reconciler"):
        passes._reconcile_logged("ml", "iris")
    (record,) = caplog.records
    assert record.exc_info is None and "status.startTime" in record.getMessage()
