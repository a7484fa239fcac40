"""The full loop on the real node: kubelet, containerd and runc run the project's images.

One real-node cluster for the module (``e2e-real``). The operator is installed from its
image by ``helm install`` of charts/modelpipe with the chart's defaults; the iris data is
served in the cluster from the trainer image and addressed by its Service's DNS name.
Two pipelines run side by side: ``iris`` trains, passes the gate and serves (asked through
``kubectl port-forward``), and ``hog`` trains under a memory limit it cannot fit in, so
the kernel kills it and the operator's crash report has to say so.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.harness import (
    REPO,
    Namespace,
    claim_directory,
    condition,
    example_documents,
    load_example_datasets,
    serving_version,
    settled,
)

from localkube.cluster import Cluster
from localkube.portforward import port_forward
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]

NAME = "e2e-real"
CHART = REPO / "charts" / "modelpipe"
DATA_SERVER = REPO / "examples" / "iris" / "data-server.yaml"
RELEASE, SYSTEM = "modelpipe", "modelpipe-system"
APP_VERSION = str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])
NONROOT = 65532
ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@dataclass(frozen=True)
class Stack:
    cluster: Cluster
    ns: Namespace
    data_url: str


def helm(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    built = subprocess.run(
        ["bash", str(REPO / "hack" / "helm" / "build.sh")], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-4000:]
    binary = built.stdout.strip().splitlines()[-1]
    argv = [binary, *args, "--kubeconfig", str(cluster.kubeconfig)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, f"helm {' '.join(args)} failed:\n{done.stderr}"
    return done


def serve_datasets(ns: Namespace) -> str:
    """examples/iris/data-server.yaml over a ConfigMap of the CSVs; its base URL by DNS name."""
    with tempfile.TemporaryDirectory() as directory:
        load_example_datasets().make(Path(directory))
        ns.kubectl("create", "configmap", "iris-datasets", f"--from-file={directory}")
    ns.kubectl("apply", "-f", str(DATA_SERVER))
    ns.kubectl("rollout", "status", "deployment/iris-data", "--timeout=180s")
    return f"http://iris-data.{ns.name}.svc.cluster.local:8000"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    images = REPO / "hack" / "localkube" / "images.sh"
    built = ["bash", str(images), "operator", "trainer"]
    subprocess.run(built, check=True, stdout=subprocess.DEVNULL)
    cluster = Cluster.up(NAME)
    try:
        helm(cluster, "install", RELEASE, str(CHART), "--namespace", SYSTEM, "--create-namespace",
             "--set", "logging.format=plain", "--wait", "--timeout=300s")  # fmt: skip
        cluster.kubectl("create", "namespace", "ml")
        ns = Namespace(cluster, "ml")
        wait_for("the default ServiceAccount", lambda: ns.get("sa", "default"), timeout=30)
        data_url = serve_datasets(ns)
        slow_start = {"progressDeadlineSeconds": 300}
        ns.apply(*example_documents(data_url=data_url, serving=slow_start))
        pvc, hog = example_documents(data_url=data_url, name="hog", serving=slow_start)
        pvc["metadata"]["name"] = hog["spec"]["artifacts"]["pvc"] = "hog-models"
        tiny = {"memory": "40Mi"}
        hog["spec"]["training"]["resources"] = {"requests": tiny, "limits": tiny}
        ns.apply(pvc, hog)
        yield Stack(cluster, ns, data_url)
        # Shown by pytest only when a test failed.
        print(ns.kubectl("get", "modelpipelines,jobs,pods,deployments", "-o", "wide").stdout)
        print(ns.kubectl("get", "modelpipelines", "-o", "yaml").stdout[-6000:])
        logs = ["logs", "-n", SYSTEM, f"deployment/{RELEASE}", "--tail=200"]
        print(cluster.kubectl(*logs, check=False).stdout)
    finally:
        cluster.down()


def serving(stack: Stack) -> str:
    """Wait until iris serves from a ready Deployment; the model version."""

    def ready() -> str | None:
        version = serving_version(stack.ns.pipeline("iris"))
        deployment = stack.ns.get("deployment", "iris") or {}
        available = (deployment.get("status") or {}).get("availableReplicas")
        return version if version and available else None

    return wait_for("iris to serve", ready, timeout=420, every=2)


def port_forward_predict(stack: Stack) -> dict[str, Any]:
    """POST /predict to the iris Service through ``kubectl port-forward`` on loopback."""
    forward = port_forward(stack.cluster, namespace=stack.ns.name, target="service/iris", port=8080)
    with forward as local:
        request = urllib.request.Request(
            f"http://127.0.0.1:{local}/predict",
            data=json.dumps({"instances": [ROW]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))


def test_helm_installs_the_operator_from_its_image(stack: Stack) -> None:
    (pod,) = json.loads(stack.cluster.kubectl("get", "pods", "-n", SYSTEM, "-o", "json").stdout)[
        "items"
    ]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == f"ghcr.io/modelpipe/modelpipe-operator:{APP_VERSION}"
    env = {e["name"]: e.get("value") for e in container["env"]}
    trainer = f"ghcr.io/modelpipe/modelpipe-trainer:{APP_VERSION}"
    assert env["MODELPIPE_TRAINER_IMAGE"] == env["MODELPIPE_SERVER_IMAGE"] == trainer
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] and status["imageID"], status


def test_a_pipeline_trains_in_the_trainer_image_and_serves_through_port_forward(
    stack: Stack,
) -> None:
    version = serving(stack)
    pipeline = stack.ns.pipeline("iris")
    assert pipeline["status"]["lastRun"]["verdict"] == "Promoted"
    answer = port_forward_predict(stack)
    assert answer["predictions"] == ["setosa"]
    assert answer["model_version"] == version
    # The trainer fetched the dataset by the Service's name (cluster DNS), and logged it.
    job = pipeline["status"]["lastRun"]["jobName"]
    logs = stack.ns.kubectl("logs", f"job/{job}", "-c", "train").stdout
    assert f"Validated dataset {stack.data_url}/v1.csv" in logs
    assert f"Wrote model {version}" in logs
    # exec into the serving pod: the image's user, a read-only root, the model's files.
    exec_ = ("exec", "deployment/iris", "--")
    assert stack.ns.kubectl(*exec_, "id", "-u").stdout.strip() == str(NONROOT)
    touch = stack.ns.kubectl(*exec_, "touch", "/x", check=False)
    assert touch.returncode != 0 and "Read-only file system" in touch.stderr
    owner = stack.ns.kubectl(*exec_, "sh", "-c", 'stat -c %u "$MODEL_DIR/model.skops"')
    assert owner.stdout.strip() == str(NONROOT)


def test_the_training_pod_ran_as_non_root_on_a_read_only_root(stack: Stack) -> None:
    """What runc was given for the train container (containerd keeps it until the pod
    goes), and who owns what the trainer wrote on the claim."""
    serving(stack)
    job = stack.ns.pipeline("iris")["status"]["lastRun"]["jobName"]
    (pod,) = stack.ns.items("pods", f"job-name={job}")
    (status,) = pod["status"]["containerStatuses"]
    assert status["state"]["terminated"]["reason"] == "Completed"
    container_id = status["containerID"].removeprefix("containerd://")
    socket = stack.cluster.node_layout.containerd_socket
    info = subprocess.run(
        ["ctr", "--address", str(socket), "-n", "k8s.io", "containers", "info", container_id],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    oci = json.loads(info.stdout)["Spec"]
    assert oci["root"]["readonly"] is True
    assert (oci["process"]["user"]["uid"], oci["process"]["user"]["gid"]) == (NONROOT, NONROOT)
    assert oci["process"]["noNewPrivileges"] is True
    assert oci["process"]["capabilities"].get("effective", []) == []
    written = list(claim_directory(stack.ns).rglob("*"))
    assert any(p.name == "model.skops" for p in written)
    assert {(p.stat().st_uid, p.stat().st_gid) for p in written} == {(NONROOT, NONROOT)}


def test_an_out_of_memory_trainer_is_oom_killed_and_reported(stack: Stack) -> None:
    pipeline = settled(stack.ns, "TrainingFailed", timeout=300, name="hog")
    last = pipeline["status"]["lastRun"]
    (pod,) = stack.ns.items("pods", f"job-name={last['jobName']}")
    (status,) = pod["status"]["containerStatuses"]
    terminated = status["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
    assert "trainer crashed (exit code 137, reason OOMKilled, killed by SIGKILL" in last["message"]
    assert condition(pipeline, "Training") == ("False", "TrainingFailed")
    events = [
        e["message"]
        for e in stack.ns.items("events")
        if e.get("reason") == "TrainingFailed" and e["involvedObject"]["name"] == "hog"
    ]
    assert any("reason OOMKilled" in m for m in events), events
