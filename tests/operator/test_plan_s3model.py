"""plan() with models in S3: where a run's model is, who may hold the keys, what is served.

State in, state out: a Job that succeeded records its run's own prefix, and the
Deployment downloads exactly that; a failed upload is never promoted; a Secret that
did not opt in for the bucket starts no Job and writes no Deployment.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator.builders import (
    condition,
    cycle,
    deployment,
    desired_version,
    job,
    kinds,
    meta,
    observe,
    result,
    spec,
    spec_dict,
    step,
    with_,
)

from modelpipe.api.v1alpha1 import ConditionType, Reason, Verdict
from modelpipe.manifests import serving_hash
from modelpipe.manifests.s3model import FETCH_CHAMPION_CONTAINER, MODEL_URI_ENV
from modelpipe.observed import JobPhase
from modelpipe.planning.outcome import (
    CreateDeployment,
    CreateJob,
    PatchDeployment,
    UpdateDeployment,
)
from modelpipe.sources.credentials import URL_PREFIXES_ANNOTATION as URL_PREFIXES

S3 = {"pvc": None, "s3": {"bucket": "ml-models", "credentialsSecret": "model-keys"}}
REFUSED = "Secret model-keys is not for this URL: none of the prefixes ... covers s3://ml-models"


def s3_spec(**overrides: Any) -> Any:
    return spec(artifacts=S3, **overrides)


def run_uri(version: str) -> str:
    return f"s3://ml-models/ml/iris/{version}/job-uid-1/"


def succeeded(version: str) -> Any:
    return job(
        version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95}), model_uri=run_uri(version)
    )


def fetch_env(pod: dict[str, Any], name: str) -> str:
    container = next(c for c in pod["initContainers"] if c["name"] == name)
    return str(next(e["value"] for e in container["env"] if e["name"] == MODEL_URI_ENV))


def test_a_promoted_run_is_served_from_its_own_prefix() -> None:
    the_spec = s3_spec()
    version = desired_version(the_spec)
    done = job(
        version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95}), model_uri=run_uri(version)
    )
    world = cycle(observe(the_spec), jobs=(done,))
    planned = step(world)
    assert planned.status.last_run is not None
    assert planned.status.last_run.model_uri == run_uri(version)
    (create,) = [a for a in planned.actions if isinstance(a, CreateDeployment)]
    pod = create.manifest["spec"]["template"]["spec"]
    assert fetch_env(pod, "fetch-model") == run_uri(version)

    rolled = deployment(version, serving_hash=serving_hash(meta=meta(), spec=the_spec))
    served = step(cycle(with_(world, status=planned.status), deployment=rolled))
    assert served.status.production is not None
    assert served.status.production.model_uri == run_uri(version)


def test_the_next_run_compares_against_production_downloaded_from_s3() -> None:
    the_spec = s3_spec(evaluation={"champion": {"metric": "accuracy"}})
    first = desired_version(the_spec)
    done = job(
        first, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95}), model_uri=run_uri(first)
    )
    world = cycle(observe(the_spec), jobs=(done,))
    rolled = deployment(first, serving_hash=serving_hash(meta=meta(), spec=the_spec))
    world = cycle(cycle(cycle(world), deployment=rolled))
    assert world.status.production is not None
    v2 = s3_spec(evaluation={"champion": {"metric": "accuracy"}}, dataset={"version": "v2"})
    planned = step(with_(world, spec=v2))
    (create,) = [a for a in planned.actions if isinstance(a, CreateJob)]
    pod = create.manifest["spec"]["template"]["spec"]
    assert fetch_env(pod, FETCH_CHAMPION_CONTAINER) == run_uri(first)


def test_a_failed_upload_is_never_promoted() -> None:
    the_spec = s3_spec()
    version = desired_version(the_spec)
    failed = job(
        version,
        JobPhase.FAILED,
        result=result({"accuracy": 0.95}),
        failure_message="PodFailurePolicy: upload-model exited 5",
        upload_failure="exit code 5, reason Error: cannot upload the model: ...",
    )
    planned = step(cycle(observe(the_spec), jobs=(failed,)))
    last = planned.status.last_run
    assert last is not None and last.verdict == Verdict.TRAINING_FAILED
    assert last.message.startswith("model upload failed (upload-model ended with exit code 5")
    assert last.model_uri is None and last.metrics == {}
    assert not [a for a in planned.actions if isinstance(a, (CreateDeployment, PatchDeployment))]


def test_a_secret_not_opted_in_for_the_bucket_starts_nothing_and_serves_nothing() -> None:
    the_spec = s3_spec()
    planned = step(with_(observe(the_spec), artifacts_problem=REFUSED))
    assert "CreateJob" not in kinds(planned)
    assert condition(planned, ConditionType.READY) == ("False", Reason.CREDENTIALS_REFUSED)

    version = desired_version(the_spec)
    done = job(
        version, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95}), model_uri=run_uri(version)
    )
    world = cycle(observe(the_spec), jobs=(done,))
    planned = step(with_(world, artifacts_problem=REFUSED))
    assert not [a for a in planned.actions if isinstance(a, (CreateDeployment, PatchDeployment))]
    assert condition(planned, ConditionType.READY) == ("False", Reason.CREDENTIALS_REFUSED)
    assert REFUSED in next(c.message for c in planned.status.conditions if c.type == "Ready")


def test_the_gatherer_reads_train_as_an_init_container_and_the_upload_s_failure() -> None:
    from modelpipe.k8s.bodies import JobBody, PodBody, parse
    from modelpipe.k8s.jobs import _model_uri, with_pod_report

    message = result({"accuracy": 0.95}).model_dump_json(by_alias=True)
    pod = {
        "metadata": {"creationTimestamp": "2026-11-27T11:50:00Z"},
        "status": {
            "initContainerStatuses": [
                {"name": "train", "state": {"terminated": {"exitCode": 0, "message": message}}}
            ],
            "containerStatuses": [
                {
                    "name": "upload-model",
                    "state": {
                        "terminated": {
                            "exitCode": 5,
                            "reason": "Error",
                            "message": "cannot upload the model: model.skops is not a regular file",
                        }
                    },
                }
            ],
        },
    }
    seen = with_pod_report(job("v1", JobPhase.FAILED), [parse(PodBody, pod)])
    assert seen.result is not None and seen.result.metrics == {"accuracy": 0.95}
    assert seen.upload_failure == (
        "exit code 5, reason Error: cannot upload the model: model.skops is not a regular file"
    )
    body = {"metadata": {"uid": "u-1", "annotations": {"modelpipe.io/model-uri": "s3://b/p/"}}}
    assert _model_uri(parse(JobBody, body)) == "s3://b/p/u-1/"
    assert _model_uri(parse(JobBody, {"metadata": {"uid": "u-1"}})) is None


def test_a_prefix_from_elsewhere_in_status_is_never_handed_to_the_keys() -> None:
    """Status is read back each pass: only this pipeline's own run prefixes are downloaded."""
    the_spec = s3_spec()
    version = desired_version(the_spec)
    world = cycle(observe(the_spec), jobs=(succeeded(version),))
    status = step(world).status
    assert status.last_run is not None
    for foreign in (
        "s3://ml-models/other/secret-stuff/",
        f"s3://ml-models/iris/{version}/",
        f"s3://ml-models/iris/{version}/a/b/",
        f"s3://elsewhere/ml/iris/{version}/job-uid-1/",
        f"s3://ml-models/other-team/iris/{version}/job-uid-1/",  # iris in another namespace
        f"s3://ml-models/iris/{version}/job-uid-1/",  # the layout without the namespace
    ):
        status.last_run.model_uri = foreign
        planned = step(with_(world, status=status, jobs=()))
        (create,) = [a for a in planned.actions if isinstance(a, CreateDeployment)]
        assert fetch_env(create.manifest["spec"]["template"]["spec"], "fetch-model") == ""


@pytest.mark.parametrize(
    ("labels", "prefixes", "refused"),
    [
        (None, None, "not found"),  # no Secret
        ({}, "s3://ml-models/team", "is not opted in"),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models/other", "is not for this URL"),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models/te", "is not for this URL"),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models-evil/team", "is not for this URL"),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models/team", None),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models", None),
        # Held to one namespace's, or one pipeline's, part of a shared bucket.
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models/team/a/ml", None),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models/team/a/ml/iris", None),
        (
            {"modelpipe.io/credentials": "true"},
            "s3://ml-models/team/a/other",
            "is not for this URL",
        ),
        ({"modelpipe.io/credentials": "true"}, "s3://ml-models/team/a/ml/iris2", "is not for"),
    ],
)
def test_the_artifacts_secret_opts_in_for_the_bucket_and_prefix(
    labels: dict[str, str] | None, prefixes: str | None, refused: str | None
) -> None:
    """As a dataset's: the label, and url-prefixes covering the pipeline's own part of the
    bucket, s3://<bucket>/<prefix>/<namespace>/<pipeline>."""
    from tests.operator.fake_api import cluster_with

    from modelpipe.k8s.gather import observe as gather

    artifacts = {"s3": {"bucket": "ml-models", "prefix": "team/a", "credentialsSecret": "k"}}
    rest, api = cluster_with({**spec_dict(), "artifacts": artifacts})
    if labels is not None:
        metadata = {"name": "k", "labels": labels, "annotations": {URL_PREFIXES: prefixes}}
        rest.objects["/api/v1/namespaces/ml/secrets/k"] = {
            "metadata": metadata,
            "data": {"AWS_SECRET_ACCESS_KEY": "aHVudGVyMg=="},
        }
    seen = gather(api, namespace="ml", name="iris")
    assert seen is not None
    if refused is None:
        assert seen.artifacts_problem is None
    else:
        assert seen.artifacts_problem is not None and refused in seen.artifacts_problem
        assert "hunter2" not in seen.artifacts_problem


def test_after_a_switch_from_a_pvc_production_serves_until_a_model_in_s3_is_promoted() -> None:
    """Production's model stays on the PVC: never the champion, never rolled to, its pods
    untouched; the first model in S3 brings the bucket's layout when it is promoted, and if
    it fails there is no PVC in the spec to roll back to, so the old pods keep serving."""
    champion = {"champion": {"metric": "accuracy"}}
    on_pvc = spec(evaluation=champion)
    first = desired_version(on_pvc)
    world = cycle(
        observe(on_pvc), jobs=(job(first, JobPhase.SUCCEEDED, result=result({"accuracy": 0.95})),)
    )
    rolled = deployment(first, serving_hash=serving_hash(meta=meta(), spec=on_pvc))
    world = cycle(cycle(cycle(world), deployment=rolled))
    assert world.status.production is not None
    assert world.status.production.model_version == first

    moved = s3_spec(evaluation=champion)
    planned = step(with_(world, spec=moved))
    assert kinds(planned) == []  # spec.serving changed, but its model is not in the bucket
    v2 = s3_spec(evaluation=champion, dataset={"version": "v2"})
    planned = step(with_(world, spec=v2))
    (create,) = [a for a in planned.actions if isinstance(a, CreateJob)]
    pod = create.manifest["spec"]["template"]["spec"]
    assert FETCH_CHAMPION_CONTAINER not in [c["name"] for c in pod["initContainers"]]
    assert not [a for a in planned.actions if isinstance(a, (UpdateDeployment, PatchDeployment))]

    second = desired_version(v2)
    world = with_(world, spec=v2, status=planned.status, jobs=(succeeded(second),))
    planned = step(world)
    (update,) = [a for a in planned.actions if isinstance(a, UpdateDeployment)]
    template = update.patch["spec"]["template"]["spec"]
    assert fetch_env(template, "fetch-model") == run_uri(second)
    assert [a.version for a in planned.actions if isinstance(a, PatchDeployment)] == [second]

    failing = deployment(
        second, ready=False, failed=True, serving_hash=serving_hash(meta=meta(), spec=v2)
    )
    planned = step(with_(world, status=planned.status, deployment=failing))
    assert not [a for a in planned.actions if isinstance(a, (UpdateDeployment, PatchDeployment))]
    assert planned.status.production is not None
    assert planned.status.production.model_version == first
    record = planned.status.last_run
    assert record is not None and record.model_version == second
    assert record.verdict == Verdict.ROLLED_BACK
    assert any(f"keeps the pods of model {first}" in e.message for e in planned.events)
