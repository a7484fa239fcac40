"""``kubectl modelpipe logs`` and ``report`` against a real training run on the real node.

The operator trains iris in a real pod and serves it; then the training Job is deleted
(as its TTL or the history limit would), so the log can only come from the copy the
trainer kept with the model, read through the API server's pod proxy from the serving
pod. Once with the models on a PVC, once in S3 (``spec.artifacts.s3``: the serving pod's
fetch-model brings the whole model directory, report and log included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    claim_directory,
    example_documents,
    promoted,
)
from tests.e2e.test_s3_model_e2e import s3_endpoint
from tests.objectstore.cluster import s3_documents
from tests.objectstore.server import S3Server

from localkube.waiting import wait_for

__all__ = ["s3_endpoint"]  # a fixture, found by name
pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]


def documents(store: str, request: pytest.FixtureRequest, data_url: str) -> list[dict[str, Any]]:
    if store == "pvc":
        # A slow machine's serving pod can take longer to start than the example allows.
        return example_documents(data_url=data_url, serving={"progressDeadlineSeconds": 120})
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return s3_documents(data_url, server, bucket, endpoint=endpoint, deadline=120)


def job_gone(ns: Namespace, version: str) -> None:
    job = f"iris-{version}"
    ns.kubectl("delete", "job", job, "--wait=true", "--timeout=120s")
    wait_for(f"the pods of Job {job} to go", lambda: not ns.items("pods", f"job-name={job}"))


@pytest.mark.parametrize("store", ["pvc", "s3"])
def test_logs_and_report_of_a_real_run_after_its_job_is_gone(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    plugin: Any,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    store: str,
) -> None:
    assert ns.apply(*documents(store, request, data_url)).returncode == 0
    version = promoted(ns, timeout=420)
    job_gone(ns, version)

    code, out, err = plugin("logs", "iris")
    assert code == 0, err
    assert f"note: Job iris-{version} is gone; this is the log kept with the model" in err
    assert "Validated dataset" in out and "Scored candidate on" in out
    assert plugin("logs", "iris", "--run", version)[1] == out

    target = tmp_path / "report.html"
    code, out, err = plugin("report", "iris", "--file", str(target))
    assert code == 0, err
    assert out.strip() == str(target)
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and version in page
    code, _, err = plugin("report", "iris", "--run", version, "--file", str(tmp_path / "r.html"))
    assert code == 0, err
    assert (tmp_path / "r.html").read_text() == page

    # What is not there is exit 3 with the reason, never a traceback.
    code, _, err = plugin("logs", "iris", "--run", "nope")
    assert code == 3 and "no run of model version 'nope'" in err
    code, _, err = plugin("report", "iris", "--run", "nope")
    assert code == 3 and "no run of model version 'nope'" in err
    if store == "pvc":  # a model kept from before reports and logs existed
        model_dir = claim_directory(ns) / "iris" / version
        (model_dir / "report.html").unlink()
        (model_dir / "train.log").unlink()
        code, _, err = plugin("report", "iris")
        assert code == 3 and f"model {version} has no report" in err, err
        code, _, err = plugin("logs", "iris")
        assert code == 3, err
        assert f"Job iris-{version} has no pod any more" in err
        assert f"model {version} has no train.log" in err
