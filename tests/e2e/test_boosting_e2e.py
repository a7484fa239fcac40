"""Issue 15: an end-to-end run with each boosting family. An XGBoost and a LightGBM pipeline
train in real pods, pass the gate, are promoted and answer requests, served by scikit-learn
because ONNX cannot take them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    example_documents,
    load_example_datasets,
    model_metadata,
    predict,
    promoted,
)

from localkube.cluster import Cluster
from localkube.reach import exposed

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
CODES = {"setosa": 0, "versicolor": 1, "virginica": 2}


@pytest.fixture(scope="module")
def coded_data_url(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Iris with the species as 0..2: XGBClassifier takes no other labels
    (docs/trainer.md, "Estimators"); served where the node's pods reach it."""
    datasets = load_example_datasets()
    directory = tmp_path_factory.mktemp("iris-coded")
    frame = datasets.iris_frame()
    frame["species"] = frame["species"].map(CODES)
    frame.to_csv(directory / "v1.csv", index=False)
    with datasets.DataServer(directory) as server, exposed(cluster, server.url) as url:
        yield url


@pytest.mark.parametrize(
    ("class_name", "data", "setosa"),
    [
        ("lightgbm.LGBMClassifier", "data_url", "setosa"),
        ("xgboost.XGBClassifier", "coded_data_url", 0),
    ],
)
def test_boosting_pipeline_trains_and_is_promoted(
    ns: Namespace,
    operator: Operator,
    request: pytest.FixtureRequest,
    class_name: str,
    data: str,
    setosa: object,
) -> None:
    training = {"estimator": {"className": class_name, "params": {"n_estimators": 20}}}
    # The example's 20 s startup deadline is for tests that want a rollout to fail fast; on a
    # loaded machine a server importing scikit-learn and a boosting library can need more.
    documents = example_documents(
        data_url=request.getfixturevalue(data),
        training=training,
        serving={"progressDeadlineSeconds": 120},
    )
    assert ns.apply(*documents).returncode == 0
    version = promoted(ns, timeout=240)
    assert ns.pipeline()["status"]["lastRun"]["verdict"] == "Promoted"
    metadata = model_metadata(ns)
    assert metadata["platform"] == "sklearn", metadata
    lineage = metadata["lineage"]
    assert (lineage["modelVersion"], lineage["estimator"]) == (version, class_name)
    assert lineage["onnx"]["reason"].startswith("no ONNX conversion"), lineage["onnx"]
    answer = predict(ns)
    assert answer is not None and answer["predictions"] == [setosa], answer
