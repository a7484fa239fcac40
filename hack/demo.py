"""``make demo``: the whole loop on a local cluster, narrated.

1. start the local cluster "demo" on a real node (kubelet, containerd and runc running the
   images `make images` built) and install the operator from its image with
   ``helm upgrade --install`` of charts/modelpipe;
2. serve the iris dataset versions from a pod in the cluster (examples/iris/data-server.yaml,
   the CSVs in a ConfigMap) and apply examples/iris/pipeline.yaml pointed at v1 by the
   Service's DNS name;
3. show progress until the first model serves, then ask it for a prediction through
   ``kubectl port-forward`` (pod and Service addresses exist only inside the node);
4. publish dataset v2: one retrain, a promotion, the Deployment rolls;
5. publish a bad dataset: rejected by validation while the old model keeps serving.

The cluster and the operator keep running after the demo; ``uv run localkube down --name
demo`` removes them. Every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from localkube.cluster import Cluster, ClusterError
from localkube.portforward import PortForwardError, port_forward

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "modelpipe-demo"
RELEASE, SYSTEM = "modelpipe", "modelpipe-system"
SAMPLE = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}


def datasets_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "iris_datasets", REPO / "examples/iris/datasets.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Demo:
    def __init__(self, cluster: Cluster, data_url: str) -> None:
        self.cluster, self.data_url = cluster, data_url
        self.seen_events: set[str] = set()
        self.last_row = ""

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.cluster.kubectl("-n", NAMESPACE, *args, input=input).stdout

    def pipeline(self) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", "mp", "iris", "-o", "json")))

    def show_progress(self) -> None:
        row = self.kubectl("get", "mp", "iris", "--no-headers").strip().rsplit(None, 1)[0]  # no age
        if row != self.last_row:
            print(f"  mp/iris  {row}")
            self.last_row = row
        events = json.loads(self.kubectl("get", "events", "-o", "json"))["items"]
        for event in sorted(events, key=lambda e: e.get("lastTimestamp") or ""):
            if (
                event["involvedObject"]["kind"] == "ModelPipeline"
                and event["metadata"]["uid"] not in self.seen_events
            ):
                self.seen_events.add(event["metadata"]["uid"])
                print(f"  event    {event['type']:<7} {event['reason']:<18} {event['message']}")

    def wait(self, what: str, done: Any, timeout: float = 480) -> None:
        print(f"Waiting for {what} ...")
        deadline = time.monotonic() + timeout
        while not done(self.pipeline()):
            self.show_progress()
            if time.monotonic() > deadline:
                raise DemoFailed(f"gave up waiting for {what} after {timeout:.0f}s")
            time.sleep(1)
        self.show_progress()

    def predict(self) -> dict[str, Any]:
        body = json.dumps({"instances": [SAMPLE]}).encode()
        with port_forward(
            self.cluster, namespace=NAMESPACE, target="service/iris", port=8080
        ) as local:
            url = f"http://127.0.0.1:{local}/predict"
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: dict[str, Any] = json.loads(response.read())
        print(f"POST {url} (kubectl port-forward service/iris) {json.dumps(SAMPLE)}\n  -> {answer}")
        return answer

    def publish(self, dataset: str) -> None:
        print(f"\n== Publishing dataset {dataset} ({self.data_url}/{dataset}.csv, in the cluster)")
        patch = {"spec": {"dataset": {"uri": f"{self.data_url}/{dataset}.csv", "version": dataset}}}
        self.kubectl("patch", "mp", "iris", "--type", "merge", "-p", json.dumps(patch))


def serving(pipeline: dict[str, Any]) -> str | None:
    return (pipeline.get("status", {}).get("production") or {}).get("modelVersion")


def verdict(pipeline: dict[str, Any]) -> str | None:
    return (pipeline.get("status", {}).get("lastRun") or {}).get("verdict")


def serve_datasets(cluster: Cluster) -> str:
    """Put the CSVs in a ConfigMap, run examples/iris/data-server.yaml; its base URL."""
    with tempfile.TemporaryDirectory() as directory:
        datasets_module().make(Path(directory))
        configmap = cluster.kubectl(
            "-n",
            NAMESPACE,
            "create",
            "configmap",
            "iris-datasets",
            f"--from-file={directory}",
            "--dry-run=client",
            "-o",
            "yaml",
        ).stdout
    cluster.kubectl("-n", NAMESPACE, "apply", "-f", "-", input=configmap)
    cluster.kubectl("-n", NAMESPACE, "apply", "-f", str(REPO / "examples/iris/data-server.yaml"))
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/iris-data", "--timeout=180s")
    url = f"http://iris-data.{NAMESPACE}.svc.cluster.local:8000"
    print(f"== Datasets served in the cluster by deployment/iris-data at {url}")
    return url


def install_operator(cluster: Cluster) -> None:
    """``helm upgrade --install`` of charts/modelpipe with its defaults: the operator image."""
    built = subprocess.run(
        ["bash", str(REPO / "hack/helm/build.sh")], capture_output=True, text=True, check=True
    )
    helm = built.stdout.strip().splitlines()[-1]
    print(f"== Installing the operator from its image: helm upgrade --install {RELEASE}")
    subprocess.run(
        [helm, "upgrade", "--install", RELEASE, str(REPO / "charts/modelpipe"),
         "--namespace", SYSTEM, "--create-namespace", "--wait", "--timeout=300s",
         "--set", "logging.format=plain", "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True, text=True, check=True, timeout=420,
    )  # fmt: skip
    wait_for_crd(cluster, "modelpipelines.modelpipe.io")


def wait_for_default_sa(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while cluster.kubectl("-n", NAMESPACE, "get", "sa", "default", check=False).returncode:
        if time.monotonic() > deadline:
            raise DemoFailed(
                f"namespace {NAMESPACE}: no default ServiceAccount after {timeout:.0f}s"
            )
        time.sleep(0.5)


def wait_for_crd(cluster: Cluster, name: str, timeout: float = 120) -> None:
    """Wait until the CRD is Established, polling its status (bounded).

    ``kubectl wait`` right after ``apply`` can fail on a freshly started apiserver
    (the CRD is not in its cache yet, or Established comes after kubectl's own
    timeout); reading the condition ourselves has neither problem.
    """
    deadline = time.monotonic() + timeout
    conditions: list[dict[str, Any]] = []
    while True:
        got = cluster.kubectl("get", "crd", name, "-o", "json", check=False)
        if got.returncode == 0:
            conditions = json.loads(got.stdout).get("status", {}).get("conditions", [])
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return
        if time.monotonic() > deadline:
            detail = got.stderr.strip() or f"conditions: {conditions}"
            raise DemoFailed(f"crd/{name} was not Established after {timeout:.0f}s ({detail})")
        time.sleep(0.5)


class DemoFailed(Exception):
    """A step of the demo failed; the message says which and why."""


def start() -> int:
    print("== Starting the local cluster 'demo' (a real node: kubelet, containerd, runc)")
    cluster = Cluster.up("demo", node="real", timeout=600)
    install_operator(cluster)
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    wait_for_default_sa(cluster)
    data_url = serve_datasets(cluster)
    return run(Demo(cluster, data_url))


def run(demo: Demo) -> int:
    pvc, pipeline = yaml.safe_load_all((REPO / "examples/iris/pipeline.yaml").read_text())
    pipeline["spec"]["dataset"]["uri"] = f"{demo.data_url}/v1.csv"
    print("\n== Applying examples/iris/pipeline.yaml")
    demo.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([pvc, pipeline]))
    demo.wait("the first model to serve", lambda p: serving(p) is not None)
    first = demo.predict()["model_version"]
    demo.publish("v2")
    demo.wait("the v2 model to be promoted", lambda p: serving(p) not in (None, first))
    second = demo.predict()["model_version"]
    demo.publish("bad")
    demo.wait("the bad dataset to be rejected", lambda p: verdict(p) == "ValidationFailed")
    still = demo.predict()["model_version"]
    assert still == second, f"expected {second} to keep serving, got {still}"
    print(
        f"\n== Done: {second} serves; the bad dataset was rejected. "
        "Stop the cluster with: uv run localkube down --name demo"
    )
    return 0


def main() -> int:
    """Run the demo; on failure say what failed (with its stderr) and how to clean up."""
    try:
        return start()
    except subprocess.CalledProcessError as failed:
        command = " ".join(str(a) for a in failed.cmd)
        stderr = (failed.stderr or "").strip() or "(no output on stderr)"
        print(f"\ndemo: this command failed (exit {failed.returncode}):\n  {command}\n{stderr}")
    except subprocess.TimeoutExpired as slow:
        print(f"\ndemo: this command did not finish in {slow.timeout:.0f}s:\n  {slow.cmd}")
    except (DemoFailed, ClusterError, PortForwardError, AssertionError) as failed:
        print(f"\ndemo: {failed}")
    except KeyboardInterrupt:
        print("\ndemo: interrupted")
    print(
        f"The cluster 'demo' is left running so you can look around:\n"
        f"  export KUBECONFIG={Cluster.at('demo').kubeconfig}\n"
        f"  kubectl -n {NAMESPACE} get mp,jobs,pods,events\n"
        f"  kubectl -n {SYSTEM} logs deployment/{RELEASE}   # the operator's log\n"
        "Stop and remove it: make cluster-down CLUSTER=demo   (or `make clean` for every cluster)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
