"""Kueue's LocalQueueDefaulting: a Job the operator made without a queue may come back
labelled with the namespace's "default" LocalQueue and suspended by Kueue. The operator
compares the spec with the queue it asked for (the Job's modelpipe.io/queue-name
annotation), so such a Job waits where Kueue put it instead of being deleted and made
again on every pass (found in review)."""

from __future__ import annotations

from dataclasses import replace

from tests.operator.builders import kinds, reasons, spec, spec_dict, step
from tests.operator.fake_api import FakeRest
from tests.operator.test_kueue import created_job, suspended_world

from modelpipe.api.v1alpha1 import Reason
from modelpipe.k8s.bodies import JobBody, parse
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.jobs import observe_job
from modelpipe.layout import KUEUE_QUEUE_LABEL, QUEUE_ASKED_ANNOTATION


def test_the_job_records_the_queue_the_operator_asked_for() -> None:
    world, _ = suspended_world()
    plain = replace(world, spec=spec(), jobs=(), kueue=None)
    made = created_job(step(plain))
    assert made["metadata"]["annotations"][QUEUE_ASKED_ANNOTATION] == ""  # type: ignore[index]
    assert KUEUE_QUEUE_LABEL not in made["metadata"]["labels"]  # type: ignore[index]


def test_a_job_kueue_defaulted_into_its_default_queue_waits_there() -> None:
    world, _ = suspended_world()
    defaulted = replace(world.jobs[0], queue_name="default", asked_queue="")
    plain = replace(world, spec=spec(), jobs=(defaulted,), kueue=None)
    planned = step(plain)
    assert "DeleteJob" not in kinds(planned)
    assert Reason.JOB_SUPERSEDED not in reasons(planned)
    assert step(replace(plain, status=planned.status)).actions == ()  # and on the next pass


def test_a_job_asked_for_a_queue_the_spec_no_longer_names_still_goes() -> None:
    world, _ = suspended_world()
    named = replace(world.jobs[0], queue_name="team", asked_queue="team")
    renamed = spec(training={**spec_dict()["training"], "queueName": None})
    planned = step(replace(world, spec=renamed, jobs=(named,), kueue=None))
    assert kinds(planned) == ["DeleteJob"] and reasons(planned) == [Reason.JOB_SUPERSEDED]


def test_the_asked_queue_is_read_from_the_job_and_absent_on_older_jobs() -> None:
    labels = {KUEUE_QUEUE_LABEL: "default"}
    for notes, asked in (({QUEUE_ASKED_ANNOTATION: ""}, ""), ({}, None)):
        body = {"metadata": {"name": "iris-1", "labels": labels, "annotations": notes}}
        job = parse(JobBody, {**body, "spec": {"suspend": True}, "status": {}})
        seen = observe_job(KubeApi(FakeRest()), job, namespace="ml", read_pods=False)  # type: ignore[arg-type]
        assert (seen.queue_name, seen.asked_queue) == ("default", asked)
