"""The plugin's pure views: which note explains a run's records missing from the serving pod."""

from __future__ import annotations

from typing import Any

import pytest

from modelpipe.cli.views import elsewhere_note, run_version, status_view

URI = "s3://models/m/iris/v1/0f1e/"


def pipeline(artifacts: dict[str, Any]) -> dict[str, Any]:
    run = {"jobName": "iris-v1", "inputHash": "h1", "verdict": "Held", "modelUri": URI}
    return {
        "spec": {"artifacts": artifacts},
        "status": {
            "production": {"modelVersion": "v2", "modelDir": "/artifacts/iris/v2",
                           "promotedAt": "2026-12-04T12:00:00Z", "reason": "gate passed"},
            "lastRun": {"modelVersion": "v2", "jobName": "iris-v2", "inputHash": "h2",
                        "verdict": "Promoted"},
            "history": [{"modelVersion": "v1", **run}],
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("artifacts", "version", "note"),
    [
        ({"pvc": "iris-models"}, "v1", ""),  # a PVC holds every version
        ({"s3": {"bucket": "models"}}, "v2", ""),  # the served one is on the pod
        (
            {"s3": {"bucket": "models"}},
            "v1",
            " (with spec.artifacts.s3 the serving pod holds only the model it serves, v2; "
            f"its files are under {URI})",
        ),
    ],
)
def test_only_s3_runs_besides_the_served_one_are_elsewhere(
    artifacts: dict[str, Any], version: str, note: str
) -> None:
    obj = pipeline(artifacts)
    assert elsewhere_note(obj, run_version(obj, version)) == note


def test_status_shows_a_queued_run_s_place_in_the_training_queue() -> None:
    obj = pipeline({"pvc": "iris-models"})
    obj["metadata"] = {"name": "iris", "namespace": "ml"}
    queued = {"modelVersion": "v3", "jobName": "iris-v3", "inputHash": "h3", "phase": "Queued"}
    obj["status"]["currentRun"] = {**queued, "queuePosition": 2}
    view = status_view(obj)
    rows = {row[0]: row[1] for row in view.sections[0].rows}
    assert rows["running"] == "v3 Queued (Job iris-v3; place 2 in the training queue)"
    assert view.document["currentRun"]["queuePosition"] == 2
    obj["status"]["currentRun"] = {**queued, "phase": "Running"}
    rows = {row[0]: row[1] for row in status_view(obj).sections[0].rows}
    assert rows["running"] == "v3 Running (Job iris-v3)"
