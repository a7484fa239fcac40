"""`make demo` keeps its dataset and models in S3 (issue 10 item 5): the pipeline it
applies and the Secret it creates are what the operator accepts, judged by the
operator's own model and opt-in check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from tests.demo.test_demo_failures import load_demo

from modelpipe.api.sources import SecretRef
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.sources.credentials import SecretView, refusal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris" / "pipeline.yaml"


def demo_pipeline() -> dict[str, Any]:
    return dict(load_demo().s3_pipeline(list(yaml.safe_load_all(EXAMPLE.read_text()))))


def test_the_dataset_is_an_s3_object_followed_and_the_models_live_in_a_bucket() -> None:
    spec = ModelPipelineSpec.model_validate(demo_pipeline()["spec"])
    assert spec.dataset.uri == "s3://iris-data/iris/train.csv"
    assert spec.dataset.version is None  # followed: a new object version is a new dataset
    assert spec.artifacts.pvc is None
    assert spec.artifacts.s3 is not None
    assert spec.artifacts.s3.base_uri() == "s3://iris-models/models"


def test_the_demo_secret_is_opted_in_for_the_dataset_and_the_models() -> None:
    demo = load_demo()
    keys = demo.ObjectStore(None).keys()
    spec = ModelPipelineSpec.model_validate(demo_pipeline()["spec"])
    assert spec.artifacts.s3 is not None
    assert spec.dataset.credentials_secret == spec.artifacts.s3.credentials_secret
    assert keys["metadata"]["name"] == spec.dataset.credentials_secret
    view = SecretView(
        labels=keys["metadata"]["labels"],
        annotations=keys["metadata"]["annotations"],
        data=keys["stringData"],
    )
    ref = SecretRef(namespace=demo.NAMESPACE, name=keys["metadata"]["name"])
    for url in (spec.dataset.uri, spec.artifacts.s3.base_uri()):
        assert refusal(ref, view, url=url) is None, url
    # Pods reach the store by its Service's name, in the demo's namespace.
    assert (
        keys["stringData"]["AWS_ENDPOINT_URL"] == "http://s3.modelpipe-demo.svc.cluster.local:7070"
    )
