"""The operator's Kubernetes edge on the apiserver's own answers, without a cluster.

The exchanges in ``tests/operator/recorded/`` are what a real kube-apiserver (v1.35,
localkube) answered to the operator's own requests (``recorded/record.py`` says how to
record them again). They are replayed through the real ``ApiClient``, so ``Rest``
(URL and query building, decoding, 404 and error mapping), ``KubeApi``, ``gather`` and
``jobs`` run as in production. Every recorded request must be made, and no other.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelpipe_contract.result import Outcome
from tests.operator.recorded.exchanges import load, replay

from modelpipe.api.v1alpha1 import ModelPipelineStatus
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.execute import merge_diff, status_patch
from modelpipe.k8s.gather import observe
from modelpipe.k8s.rest import ApiError
from modelpipe.layout import job_name
from modelpipe.observed import JobPhase, Observed

# The names record.py gave the objects (DONE is the version the spec asks for).
WORLD = load("observe_fresh")["world"]
NS, NAME = WORLD["namespace"], WORLD["name"]
DONE, FAILED, RUNNING, FOREIGN = (WORLD[k] for k in ("done", "failed", "running", "foreign"))


def _observe(recording: str) -> tuple[Observed, Any]:
    api, rest = replay(load(recording)["exchanges"])
    observed = observe(KubeApi(rest), namespace=NS, name=NAME)
    assert observed is not None
    assert api.pending == [], "a recorded request was not made"
    return observed, api


def test_a_fresh_pipeline_reads_its_jobs_and_the_finished_ones_pods() -> None:
    observed, api = _observe("observe_fresh")
    jobs = {job.model_version: job for job in observed.jobs}
    assert set(jobs) == {DONE, FAILED, RUNNING}  # FOREIGN has the label, not the owner
    assert FOREIGN not in {job.model_version for job in observed.jobs}
    done, failed, running = jobs[DONE], jobs[FAILED], jobs[RUNNING]

    assert done.phase is JobPhase.SUCCEEDED and done.name == job_name(pipeline=NAME, version=DONE)
    assert done.result is not None and done.result.outcome is Outcome.SUCCEEDED
    assert done.result.metrics == {"accuracy": 0.93}
    assert (done.exit_code, done.exit_reason, done.result_error) == (0, "Completed", None)
    assert done.start_time and done.completion_time and not done.deleting

    assert failed.phase is JobPhase.FAILED and failed.result is None
    assert failed.failure_message.startswith("BackoffLimitExceeded: ")
    assert failed.result_error == "the trainer wrote no termination message"
    assert (failed.exit_code, failed.exit_reason) == (3, "Error")
    assert failed.completion_time  # the Failed condition's time

    assert running.phase is JobPhase.ACTIVE and running.completion_time is None
    pods_read = [path for method, path, _ in api.sent if "/pods?" in path]
    assert len(pods_read) == 2 and not any(RUNNING in path for path in pods_read)


def test_the_serving_objects_and_the_claim_as_read() -> None:
    observed, _ = _observe("observe_fresh")
    deployment = observed.deployment
    assert deployment is not None
    assert (deployment.name, deployment.owned, deployment.opted_in) == (NAME, True, True)
    assert deployment.template_version == DONE and deployment.containers == ("serve",)
    assert (deployment.replicas, deployment.ready_replicas, deployment.available_replicas) == (
        1,
        1,
        1,
    )
    assert deployment.generation == deployment.observed_generation == 1
    assert not deployment.progress_deadline_exceeded
    assert observed.service_exists and observed.service_owned
    assert observed.pvc_exists and observed.service_account_exists
    assert observed.service_account_problem is None  # the account opted in
    assert observed.spec is not None and observed.spec_error is None
    assert observed.metadata.name == NAME and observed.metadata.uid


def test_a_judged_job_is_not_read_again() -> None:
    """After the status names DONE's verdict, only the unjudged FAILED Job's pods are read."""
    observed, api = _observe("observe_judged")
    assert observed.status.production is not None
    assert observed.status.production.model_version == DONE
    pods_read = [path for method, path, _ in api.sent if "/pods?" in path]
    assert pods_read == [f"/api/v1/namespaces/{NS}/pods?labelSelector=job-name%3Diris-{FAILED}"]
    done = next(job for job in observed.jobs if job.model_version == DONE)
    assert done.phase is JobPhase.SUCCEEDED and done.result is None  # not read, not needed


@pytest.mark.parametrize("case", [0, 1])
def test_the_status_patch_is_what_was_sent_and_the_apiserver_made_it_after(case: int) -> None:
    """The apiserver applied our merge patch: its answer's status is ``after``."""
    recorded = load("status_patch")["cases"][case]
    before = ModelPipelineStatus.model_validate(recorded["before"])
    after = ModelPipelineStatus.model_validate(recorded["after"])
    (exchange,) = recorded["exchanges"]
    assert exchange["contentType"] == "application/merge-patch+json"
    assert {"status": status_patch(before, after)} == exchange["body"]
    answered = ModelPipelineStatus.model_validate(exchange["answer"]["status"])
    assert answered == after

    api, rest = replay(recorded["exchanges"])
    KubeApi(rest).patch_pipeline_status(NS, NAME, status_patch(before, after))
    assert api.pending == [] and api.sent[0][2] == exchange["body"]


def test_a_removed_field_is_sent_as_null_and_an_unchanged_status_is_no_write() -> None:
    recorded = load("status_patch")["cases"][1]
    assert recorded["exchanges"][0]["body"]["status"]["production"] is None
    assert "production" not in recorded["exchanges"][0]["answer"]["status"]
    before = ModelPipelineStatus.model_validate(recorded["before"])
    assert status_patch(before, before) == {}


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
        ({"a": {"b": 1}}, {"a": {"b": 1}}, {}),
        ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),  # lists are replaced whole (RFC 7386)
        ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
        ({}, {"a": {"b": None}}, {"a": {"b": None}}),
    ],
)
def test_merge_diff_table(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert merge_diff(old, new) == patch


def test_answers_that_mean_absent_and_those_that_are_errors() -> None:
    exchanges = load("errors")["exchanges"]
    api, rest = replay(exchanges)
    kube = KubeApi(rest)
    assert kube.get_deployment(NS, "absent") is None  # 404 on GET
    kube.delete_job(NS, "absent")  # 404 on DELETE: already gone
    name = job_name(pipeline=NAME, version=DONE)
    assert kube.create_job(NS, {"metadata": {"name": name}}) is None  # 409: adopted
    with pytest.raises(ApiError) as invalid:
        kube.create_job(NS, {"metadata": {"name": "Bad_Name"}})
    assert (invalid.value.status, invalid.value.reason) == (422, "Invalid")
    assert "lowercase RFC 1123" in invalid.value.message
    with pytest.raises(ApiError) as bad:
        rest.list_items(f"/apis/batch/v1/namespaces/{NS}/jobs", selector="a in (b")
    assert (bad.value.status, bad.value.reason) == (400, "BadRequest")
    assert api.pending == []
    assert [sent[1] for sent in api.sent] == [e["path"] for e in exchanges]
