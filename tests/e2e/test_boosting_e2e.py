"""Issue 15: an end-to-end run with each boosting family. An XGBoost and a LightGBM pipeline
train in real pods, pass the gate, are promoted and answer requests, served by onnxruntime
(issue 17: converted through onnxmltools and verified). Both learn iris's text labels:
XGBClassifier, which takes only codes 0..n-1, through the trainer's label encoding."""

from __future__ import annotations

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    example_documents,
    model_metadata,
    predict,
    promoted,
)

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("class_name", ["lightgbm.LGBMClassifier", "xgboost.XGBClassifier"])
def test_boosting_pipeline_trains_and_is_promoted(
    ns: Namespace, operator: Operator, data_url: str, class_name: str
) -> None:
    training = {"estimator": {"className": class_name, "params": {"n_estimators": 20}}}
    # The example's 20 s startup deadline is for tests that want a rollout to fail fast; on a
    # loaded machine a server importing scikit-learn and a boosting library can need more.
    documents = example_documents(
        data_url=data_url,
        training=training,
        serving={"progressDeadlineSeconds": 120},
    )
    assert ns.apply(*documents).returncode == 0
    version = promoted(ns, timeout=240)
    assert ns.pipeline()["status"]["lastRun"]["verdict"] == "Promoted"
    metadata = model_metadata(ns)
    assert metadata["platform"] == "onnxruntime", metadata
    lineage = metadata["lineage"]
    assert (lineage["modelVersion"], lineage["estimator"]) == (version, class_name)
    assert lineage["onnx"]["verified"] is True, lineage["onnx"]
    answer = predict(ns)
    # The species as text: XGBoost was given codes and the model decodes them (labels.py).
    assert answer is not None and answer["predictions"] == ["setosa"], answer
