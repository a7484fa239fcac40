"""Accepted specs that failed badly at run time (issue 16), on the real cluster.

- a large spec (a run config over the 128 KiB an environment string may hold) trains:
  the run config is a file from a ConfigMap owned by the Job;
- a missing spec.training.serviceAccountName is ServiceAccountNotFound at once, and
  the run starts once the account exists (was: Running until the deadline);
- a clone that fails is "code checkout failed" with git's exit code (was: "trainer
  crashed (the train container never finished)").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    example_documents,
    last_verdict,
    load_example_datasets,
    settled,
)

from localkube.reach import exposed
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
# Nothing listens on the discard port: the clone fails the way an unreachable remote does.
UNREACHABLE_GIT = "http://127.0.0.1:9/models.git"


def judged(ns: Namespace) -> dict[str, Any] | None:
    pipeline = ns.pipeline()
    return pipeline if last_verdict(pipeline) not in (None, "Running") else None


def with_ready(ns: Namespace) -> dict[str, Any] | None:
    pipeline = ns.pipeline()
    return pipeline if condition(pipeline, "Ready") else None


@pytest.fixture
def wide_data(ns: Namespace, tmp_path: Path) -> Iterator[str]:
    """Iris with a categorical column ``tag`` (always "a"), served on loopback to the pods."""
    datasets = load_example_datasets()
    frame = datasets.iris_frame().sample(n=120, random_state=1)
    frame.insert(4, "tag", "a")
    frame.to_csv(tmp_path / "wide.csv", index=False)
    with datasets.DataServer(tmp_path) as server, exposed(ns.cluster, server.url) as url:
        yield f"{url}/wide.csv"


def test_a_spec_too_large_for_an_environment_variable_trains(
    ns: Namespace, operator: Operator, data_url: str, wide_data: str
) -> None:
    # An admissible schema whose run config is over the 128 KiB one environment string
    # may hold: 1024 allowedValues of up to 127 characters (only "a" occurs).
    values = ["a", *(f"{i:04d}{'v' * 123}" for i in range(1023))]
    tag = {"name": "tag", "kind": "categorical", "allowedValues": values}
    pvc, pipeline = example_documents(data_url=data_url)
    schema = pipeline["spec"]["dataset"]["schema"]
    schema["features"].append(tag)
    pipeline["spec"]["dataset"]["uri"] = wide_data
    ns.apply(pvc)
    # `kubectl apply` would also keep a copy of it in an annotation.
    ns.kubectl("create", "-f", "-", input=yaml.safe_dump(pipeline))
    done = wait_for("the run's verdict", lambda: judged(ns), timeout=240)
    last = done["status"]["lastRun"]
    assert last["verdict"] in ("Passed", "Promoted", "RolledBack"), last["message"]
    assert "accuracy" in last["metrics"]
    (job,) = ns.items("jobs", "modelpipe.io/pipeline=iris")
    config = ns.get("configmap", job["metadata"]["name"])
    assert config is not None
    assert len(config["data"]["run-config.json"]) > 128 * 1024
    (owner,) = config["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("Job", job["metadata"]["uid"])
    given = json.loads(config["data"]["run-config.json"])["schema"]["features"]
    assert given[-1]["allowedValues"] == values
    # Deleted with its Job (the garbage collector follows the owner reference).
    ns.kubectl("delete", "job", job["metadata"]["name"], "--wait=true")
    wait_for(
        "the run config to go with its Job",
        lambda: ns.get("configmap", job["metadata"]["name"]) is None,
        timeout=60,
    )


def test_a_missing_service_account_is_reported_at_once(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    ns.apply(*example_documents(data_url=data_url, training={"serviceAccountName": "trainer"}))
    pipeline = wait_for("a Ready condition", lambda: with_ready(ns), timeout=60)
    assert condition(pipeline, "Ready") == ("False", "ServiceAccountNotFound")
    assert condition(pipeline, "Training") == ("False", "ServiceAccountNotFound")
    assert ns.jobs() == []
    (warning,) = ns.events("ServiceAccountNotFound")
    assert "ServiceAccount trainer not found" in warning
    ns.kubectl("create", "serviceaccount", "trainer")
    ns.kubectl("annotate", "serviceaccount", "trainer", "modelpipe.io/pipelines=iris")  # opt in
    wait_for("the run to start once the account exists", ns.jobs, timeout=90)
    done = wait_for("the run's verdict", lambda: judged(ns), timeout=240)
    assert "accuracy" in done["status"]["lastRun"]["metrics"]  # it trained as that account
    assert len(ns.events("ServiceAccountNotFound")) == 1  # warned once, no retry storm


def test_a_failed_clone_is_a_checkout_failure_not_a_crash(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    code = {"revision": "0123456789abcdef0123456789abcdef01234567", "git": {"url": UNREACHABLE_GIT}}
    ns.apply(*example_documents(data_url=data_url, code=code))
    pipeline = settled(ns, "TrainingFailed", timeout=180)
    message = pipeline["status"]["lastRun"]["message"]
    assert message.startswith("code checkout failed: git-clone of revision 0123456789abcdef")
    assert "exit code 128, reason Error" in message
    assert "trainer crashed" not in message
    assert condition(pipeline, "Training") == ("False", "TrainingFailed")
    assert any("code checkout failed" in m for m in ns.events("TrainingFailed"))
    assert len(ns.jobs()) == 1  # a verdict is final for its inputs: no retry loop
