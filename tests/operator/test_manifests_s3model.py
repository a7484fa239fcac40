"""Models in S3 (spec.artifacts.s3): the pods' shape, and who holds the keys.

The training and serving containers may run the author's image, so the keys are
mounted into the operator's own upload-model / fetch-model / fetch-champion
containers only; train runs as an init container, so the upload starts only after
it exited 0.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tests.operator.builders import meta, spec
from tests.operator.test_manifests import assert_restricted, containers, inputs_for

from modelpipe.api.v1alpha1 import DEFAULT_TRAINER_IMAGE
from modelpipe.layout import ARTIFACTS_MOUNT, ARTIFACTS_VOLUME, MODEL_DIR_ENV
from modelpipe.manifests import (
    promotion_patch,
    serving_deployment,
    serving_hash,
    template_patch,
    training_run,
)
from modelpipe.manifests.s3model import (
    FETCH_CHAMPION_CONTAINER,
    FETCH_MODEL_CONTAINER,
    MODEL_URI_ANNOTATION,
    MODEL_URI_ENV,
    RUN_ID_LABEL,
    UPLOAD_CONTAINER,
)

# builders.spec merges into the default {"pvc": "models"}: None drops it.
S3 = {
    "pvc": None,
    "s3": {"bucket": "ml-models", "prefix": "team/a", "credentialsSecret": "model-keys"},
}
RUN_URI = "s3://ml-models/team/a/ml/iris/0123abcd/uid-7/"


def s3_spec(**artifacts: Any) -> Any:
    return spec(artifacts={**S3, **artifacts}, code={"revision": "abc", "image": "author/own:1"})


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def key_holders(pod: dict[str, Any]) -> list[str]:
    secret = {v["name"] for v in pod["volumes"] if "secret" in v}
    return [
        c["name"]
        for c in containers(pod)
        if any(m["name"] in secret for m in c.get("volumeMounts", []))
    ]


def test_training_uploads_after_train_under_the_job_s_own_prefix() -> None:
    the_spec = s3_spec()
    inputs = inputs_for(the_spec)
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None)
    job, pod = run.job, run.job["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["train"]
    assert pod["initContainers"][0]["image"] == "author/own:1"
    (upload,) = pod["containers"]
    assert (upload["name"], upload["image"]) == (UPLOAD_CONTAINER, DEFAULT_TRAINER_IMAGE)
    assert upload["command"] == ["modelpipe-trainer", "upload-model"]
    base = f"s3://ml-models/team/a/ml/iris/{inputs.model_version}/"
    assert job["metadata"]["annotations"][MODEL_URI_ANNOTATION] == base
    env = env_of(upload)
    assert env[MODEL_URI_ENV] == base
    assert env["MODELPIPE_RUN_ID"] == {
        "fieldRef": {"fieldPath": f"metadata.labels['{RUN_ID_LABEL}']"}
    }
    assert env["MODELPIPE_MODEL_DIR"] == f"{ARTIFACTS_MOUNT}/iris/{inputs.model_version}"
    artifacts = next(v for v in pod["volumes"] if v["name"] == ARTIFACTS_VOLUME)
    assert artifacts == {"name": ARTIFACTS_VOLUME, "emptyDir": {}}
    assert key_holders(pod) == [UPLOAD_CONTAINER]
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert {"containerName": UPLOAD_CONTAINER, "operator": "In", "values": [5]} in [
        r.get("onExitCodes") for r in rules
    ]
    assert any((r.get("onExitCodes") or {}).get("containerName") == "train" for r in rules)
    assert_restricted(pod)


def test_the_champion_is_downloaded_and_verified_before_training() -> None:
    the_spec = s3_spec()
    run = training_run(
        meta=meta(),
        spec=the_spec,
        inputs=inputs_for(the_spec),
        champion_dir="/artifacts/iris/0123abcd",
        champion_uri=RUN_URI,
    )
    pod = run.job["spec"]["template"]["spec"]
    fetch = pod["initContainers"][0]
    assert fetch["name"] == FETCH_CHAMPION_CONTAINER
    assert fetch["command"] == ["modelpipe-trainer", "fetch-model"]
    assert env_of(fetch)[MODEL_URI_ENV] == RUN_URI
    assert env_of(fetch)["MODELPIPE_MODEL_DIR"] == "/artifacts/iris/0123abcd"
    assert key_holders(pod) == [FETCH_CHAMPION_CONTAINER, UPLOAD_CONTAINER]


def test_without_a_secret_no_keys_are_mounted() -> None:
    the_spec = spec(artifacts={"pvc": None, "s3": {"bucket": "ml-models"}})
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    pod = run.job["spec"]["template"]["spec"]
    assert key_holders(pod) == []
    assert "MODELPIPE_S3_CREDENTIALS_DIR" not in env_of(pod["containers"][0])
    assert run.job["metadata"]["annotations"][MODEL_URI_ANNOTATION].startswith(
        "s3://ml-models/ml/iris/"
    )


def test_serving_pods_download_and_verify_before_the_server_starts() -> None:
    the_spec = s3_spec()
    made = serving_deployment(
        meta=meta(),
        spec=the_spec,
        version="0123abcd",
        model_dir="/artifacts/iris/0123abcd",
        model_uri=RUN_URI,
    )
    pod = made["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    assert (fetch["name"], fetch["image"]) == (FETCH_MODEL_CONTAINER, DEFAULT_TRAINER_IMAGE)
    assert env_of(fetch)[MODEL_URI_ENV] == RUN_URI
    assert env_of(fetch)["MODELPIPE_MODEL_DIR"] == "/artifacts/iris/0123abcd"
    (serve,) = pod["containers"]
    assert env_of(serve)[MODEL_DIR_ENV] == "/artifacts/iris/0123abcd"
    mount = next(m for m in serve["volumeMounts"] if m["name"] == ARTIFACTS_VOLUME)
    assert mount["readOnly"] is True
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]  # any node
    assert key_holders(pod) == [FETCH_MODEL_CONTAINER]
    assert_restricted(pod)
    other = serving_deployment(
        meta=meta(), spec=the_spec, version="x", model_dir="/artifacts/iris/x", model_uri="s3://o/"
    )
    assert other["metadata"]["annotations"]["modelpipe.io/serving-hash"] == serving_hash(
        meta=meta(), spec=the_spec
    )


def test_promotion_points_the_download_at_the_new_run() -> None:
    patch = promotion_patch(
        pipeline="iris",
        container="serve",
        version="v2",
        model_dir="/artifacts/iris/v2",
        model_uri=RUN_URI,
    )
    (fetch,) = patch["spec"]["template"]["spec"]["initContainers"]
    assert fetch == {
        "name": FETCH_MODEL_CONTAINER,
        "env": [
            {"name": MODEL_URI_ENV, "value": RUN_URI},
            {"name": "MODELPIPE_MODEL_DIR", "value": "/artifacts/iris/v2"},
        ],
    }
    plain = promotion_patch(pipeline="iris", container="serve", version="v2", model_dir="/a")
    assert "initContainers" not in plain["spec"]["template"]["spec"]


def test_a_switch_back_to_a_pvc_drops_the_download() -> None:
    patch = template_patch(meta=meta(), spec=spec(), version="v1", model_dir="/artifacts/iris/v1")
    assert patch["spec"]["template"]["spec"]["initContainers"] is None


@pytest.mark.parametrize(
    ("artifacts", "serving", "expected"),
    [
        ({**S3, "pvc": "models"}, {"template": {}}, "exactly one of artifacts.pvc"),
        ({"pvc": None}, {"template": {}}, "exactly one of artifacts.pvc"),
        (S3, {"deploymentName": "web"}, "artifacts.s3 needs serving.template"),
        (
            {"pvc": None, "s3": {"bucket": "ml-models", "prefix": "/abs"}},
            {"template": {}},
            "prefix",
        ),
        (
            {"pvc": None, "s3": {"bucket": "ml-models", "prefix": "a/../b"}},
            {"template": {}},
            "prefix",
        ),
        ({"pvc": None, "s3": {"bucket": "Bad_Bucket"}}, {"template": {}}, "bucket"),
    ],
)
def test_artifacts_take_exactly_one_store(
    artifacts: dict[str, Any], serving: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(artifacts=artifacts, serving=serving)
    assert expected in str(caught.value)
