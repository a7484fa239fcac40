"""``make demo``: the whole loop on a local cluster, narrated.

1. start the local cluster "demo" on a real node (kubelet, containerd and runc running the
   images `make images` built) and install the operator from its image with
   ``helm upgrade --install`` of charts/modelpipe;
2. run an S3 server in the cluster (examples/iris/s3-server.yaml: versitygw, bucket
   versioning), create its buckets and upload dataset v1 as an object from the host
   through ``kubectl port-forward``; apply examples/iris/pipeline.yaml with its dataset
   at ``s3://iris-data/iris/train.csv`` (followed, no version pinned) and its models in
   ``s3://iris-models/models`` (``spec.artifacts.s3``), both with the opted-in Secret
   iris-s3;
3. show progress until the first model serves, then ask it for a prediction through
   ``kubectl port-forward`` (pod and Service addresses exist only inside the node);
4. publish dataset v2 (a new version of the same object): the operator notices the new
   VersionId, one retrain, a promotion, the Deployment rolls;
5. publish a bad dataset the same way: rejected by validation while the old model keeps
   serving.

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
from botocore.exceptions import BotoCoreError, ClientError
from demo_store import (
    DATA_BUCKET,
    DATA_KEY,
    KEYS,
    MODELS_BUCKET,
    MODELS_PREFIX,
    NAMESPACE,
    ROOT_KEYS,
    S3_PORT,
    AdminError,
    ObjectStore,
)

from localkube.cluster import Cluster, ClusterError
from localkube.portforward import PortForwardError, port_forward

REPO = Path(__file__).resolve().parents[1]
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
    def __init__(self, cluster: Cluster, store: ObjectStore, datasets: Path) -> None:
        self.cluster, self.store, self.datasets = cluster, store, datasets
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
        """Upload ``dataset`` as the object's next version; the pipeline follows it."""
        version = self.store.upload(self.datasets / f"{dataset}.csv")
        print(
            f"\n== Publishing dataset {dataset}: {dataset}.csv uploaded to "
            f"s3://{DATA_BUCKET}/{DATA_KEY} (new VersionId {version}); "
            "the operator notices it within the dataset's pollInterval (10s)"
        )


def serving(pipeline: dict[str, Any]) -> str | None:
    return (pipeline.get("status", {}).get("production") or {}).get("modelVersion")


def verdict(pipeline: dict[str, Any]) -> str | None:
    return (pipeline.get("status", {}).get("lastRun") or {}).get("verdict")


def start_object_store(cluster: Cluster) -> ObjectStore:
    """Run examples/iris/s3-server.yaml (its data and IAM on a PVC) with root keys of its
    own; create the two buckets, versioned, and the pipeline's user (hack/demo_store.py)."""
    store = ObjectStore(cluster)
    for secret in (store.root_keys(), store.keys()):
        cluster.kubectl("-n", NAMESPACE, "apply", "-f", "-", input=json.dumps(secret))
    cluster.kubectl("-n", NAMESPACE, "apply", "-f", str(REPO / "examples/iris/s3-server.yaml"))
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/s3", "--timeout=180s")
    store.provision()
    print(
        f"== S3 server running in the cluster: deployment/s3 at {store.endpoint}, data on "
        f"PVC s3-data (versioned buckets {DATA_BUCKET} and {MODELS_BUCKET}, owned by root, "
        f"keys in Secret {ROOT_KEYS}); the pipeline's Secret {KEYS} holds an IAM user "
        "that may only read the dataset and read and write its namespace's models"
    )
    return store


def s3_pipeline(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """examples/iris/pipeline.yaml with its dataset followed in S3 and its models in S3
    (the example's PVC is not needed)."""
    pipeline = next(d for d in documents if d["kind"] == "ModelPipeline")
    spec = pipeline["spec"]
    dataset = {k: v for k, v in spec["dataset"].items() if k != "version"}  # follow, not pin
    spec["dataset"] = {
        **dataset,
        "uri": f"s3://{DATA_BUCKET}/{DATA_KEY}",
        "credentialsSecret": KEYS,
        "pollInterval": "10s",
    }
    spec["artifacts"] = {
        "s3": {"bucket": MODELS_BUCKET, "prefix": MODELS_PREFIX, "credentialsSecret": KEYS}
    }
    return dict(pipeline)


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
    cluster = Cluster.up("demo")
    install_operator(cluster)
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    wait_for_default_sa(cluster)
    store = start_object_store(cluster)
    with tempfile.TemporaryDirectory() as directory:
        datasets_module().make(Path(directory))
        return run(Demo(cluster, store, Path(directory)))


def run(demo: Demo) -> int:
    version = demo.store.upload(demo.datasets / "v1.csv")
    print(f"== Dataset v1 uploaded to s3://{DATA_BUCKET}/{DATA_KEY} (VersionId {version})")
    documents = list(yaml.safe_load_all((REPO / "examples/iris/pipeline.yaml").read_text()))
    pipeline = s3_pipeline(documents)
    print(
        "\n== Applying examples/iris/pipeline.yaml with spec.dataset.uri "
        f"s3://{DATA_BUCKET}/{DATA_KEY} and spec.artifacts.s3 s3://{MODELS_BUCKET}/{MODELS_PREFIX}"
    )
    demo.kubectl("apply", "-f", "-", input=yaml.safe_dump(pipeline))
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
        f"\n== Done: {second} serves; the bad dataset was rejected.\n"
        f"  export KUBECONFIG={demo.cluster.kubeconfig}\n"
        f"  kubectl -n {NAMESPACE} get mp iris            # dataset version, model serving\n"
        f"  kubectl -n {NAMESPACE} port-forward service/s3 {S3_PORT}   # the S3 server, "
        f"root keys in Secret {ROOT_KEYS}\n"
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
    except (DemoFailed, ClusterError, PortForwardError, AdminError, AssertionError) as failed:
        print(f"\ndemo: {failed}")
    except (BotoCoreError, ClientError) as failed:
        print(f"\ndemo: a request to the S3 server in the cluster (service/s3) failed: {failed}")
    except KeyboardInterrupt:
        print("\ndemo: interrupted")
    print(
        f"The cluster 'demo' is left running so you can look around:\n"
        f"  export KUBECONFIG={Cluster.at('demo').kubeconfig}\n"
        f"  kubectl -n {NAMESPACE} get mp,jobs,pods,events\n"
        f"  kubectl -n {NAMESPACE} logs deployment/s3      # the S3 server's log\n"
        f"  kubectl -n {SYSTEM} logs deployment/{RELEASE}   # the operator's log\n"
        "Stop and remove it: make cluster-down CLUSTER=demo   (or `make clean` for every cluster)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
