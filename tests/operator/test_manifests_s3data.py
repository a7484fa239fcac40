"""The training Job of an s3:// dataset: keys only in the operator's fetch-data container."""

from __future__ import annotations

import json
from typing import Any

from tests.operator.builders import meta, spec
from tests.operator.test_manifests import assert_restricted, config_of, containers, inputs_for

from modelpipe.api.v1alpha1 import DEFAULT_TRAINER_IMAGE
from modelpipe.manifests import training_run
from modelpipe.manifests.s3data import CREDENTIALS_VOLUME, DATA_MOUNT, FETCH_CONTAINER


def s3_run(**dataset: Any) -> Any:
    the_spec = spec(
        code={"revision": "abc", "image": "author/own:1"},
        dataset={"uri": "s3://ml-data/iris/train.csv", "version": "versionId:v7", **dataset},
    )
    return training_run(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)


def test_s3_dataset_is_fetched_by_the_trainer_image_into_an_empty_dir() -> None:
    run = s3_run(
        credentialsSecret="s3-ml-data",
        evaluation={"uri": "s3://ml-data/iris/holdout.parquet", "version": "h1"},
    )
    pod = run.job["spec"]["template"]["spec"]
    fetch, train = pod["initContainers"][0], pod["containers"][0]
    assert fetch["name"] == FETCH_CONTAINER and fetch["image"] == DEFAULT_TRAINER_IMAGE
    assert fetch["command"] == ["modelpipe-trainer", "fetch-s3"]
    objects = json.loads(next(e["value"] for e in fetch["env"] if e["name"].endswith("OBJECTS")))
    assert [(o["uri"], o["version"], o["path"]) for o in objects] == [
        ("s3://ml-data/iris/train.csv", "versionId:v7", f"{DATA_MOUNT}/train/train.csv"),
        ("s3://ml-data/iris/holdout.parquet", "h1", f"{DATA_MOUNT}/evaluation/holdout.parquet"),
    ]
    secret_users = [
        c["name"]
        for c in containers(pod)
        if any(m["name"] == CREDENTIALS_VOLUME for m in c.get("volumeMounts", []))
    ]
    assert secret_users == [FETCH_CONTAINER]
    assert train["image"] == "author/own:1"
    assert {"name": "s3-data", "mountPath": DATA_MOUNT, "readOnly": True} in train["volumeMounts"]
    config = config_of(run)
    assert config.dataset.uri == f"{DATA_MOUNT}/train/train.csv"
    assert config.eval_dataset is not None
    assert config.eval_dataset.uri == f"{DATA_MOUNT}/evaluation/holdout.parquet"
    assert_restricted(pod)


def test_without_a_secret_nothing_is_mounted_and_the_chain_is_used() -> None:
    run = s3_run()
    pod = run.job["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"] if v["name"] == CREDENTIALS_VOLUME] == []
    fetch = pod["initContainers"][0]
    assert all("CREDENTIALS_DIR" not in e["name"] for e in fetch["env"])


def test_http_dataset_has_no_fetch_container() -> None:
    the_spec = spec()
    run = training_run(meta=meta(), spec=the_spec, inputs=inputs_for(the_spec), champion_dir=None)
    names = [c["name"] for c in run.job["spec"]["template"]["spec"].get("initContainers", [])]
    assert FETCH_CONTAINER not in names


def test_a_version_id_in_the_uri_is_the_dataset_version() -> None:
    the_spec = spec(dataset={"uri": "s3://ml-data/iris.csv?versionId=abc.1", "version": None})
    inputs = inputs_for(the_spec)
    assert inputs.dataset_version == "versionId:abc.1"
    labelled = spec(dataset={"uri": "s3://ml-data/iris.csv?versionId=abc.1", "version": "v9"})
    assert inputs_for(labelled).dataset_version == "v9"
