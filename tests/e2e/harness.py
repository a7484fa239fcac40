"""A running operator and a view of one namespace, for tests against the local cluster.

The operator runs as its real console script (``modelpipe-operator run --namespace``)
in a subprocess, so tests can kill and restart it like a crashed pod. Every wait is
bounded.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from localkube.cluster import Cluster
from localkube.reach import node_network, on_node
from localkube.waiting import wait_for
from modelpipe.layout import RETRAIN_ANNOTATION

REPO = Path(__file__).resolve().parents[2]
# Changes nothing the operator reads; an update all the same, so it makes a pass.
POKE_ANNOTATION = "test.modelpipe.io/poke"
CRD = REPO / "crds" / "modelpipe.io_modelpipelines.yaml"
# What the CRD's own CEL cannot check (free-form estimator params), generated with it.
POLICY = REPO / "crds" / "modelpipe.io_admission-policy.yaml"
EXAMPLE = REPO / "examples" / "iris" / "pipeline.yaml"
SERVING = "app.kubernetes.io/component=serving"


def load_example_datasets() -> ModuleType:
    """examples/iris/datasets.py (the examples are scripts, not an installed package)."""
    spec = importlib.util.spec_from_file_location(
        "iris_datasets", REPO / "examples" / "iris" / "datasets.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def example_data_server(directory: Path) -> Iterator[str]:
    """The example's dataset versions written to ``directory`` and served on loopback: the URL."""
    datasets = load_example_datasets()
    datasets.make(directory)
    with datasets.DataServer(directory) as server:
        yield str(server.url)


def example_csv_versions(directory: Path) -> dict[str, bytes]:
    """The example's dataset versions as bytes: v1 (120 rows), v2 (150 rows), ..."""
    paths = load_example_datasets().make(directory)
    return {name: path.read_bytes() for name, path in paths.items()}


def secret(name: str, *, prefix: str, **data: str) -> dict[str, Any]:
    """A credentials Secret opted in for URLs under ``prefix`` (docs/install.md)."""
    metadata = {
        "name": name,
        "labels": {"modelpipe.io/credentials": "true"},
        "annotations": {"modelpipe.io/url-prefixes": prefix},
    }
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "stringData": data}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Operator:
    """``modelpipe-operator run`` for one namespace, as a killable subprocess."""

    def __init__(
        self, cluster: Cluster, namespace: str, log_dir: Path, *, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.cluster, self.namespace, self.log_dir = cluster, namespace, log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        # Loopback ports picked once, so a restarted operator serves on the same ones.
        self.metrics_port, self.liveness_port = free_port(), free_port()
        self.extra_args = extra_args

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"operator-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            on_node(
                self.cluster,
                [
                    str(REPO / ".venv" / "bin" / "modelpipe-operator"),
                    "run",
                    "--namespace",
                    self.namespace,
                    *(self.extra_args or ("--standalone",)),
                    "--kubeconfig",
                    str(self.cluster.kubeconfig),
                    "--metrics-port",
                    str(self.metrics_port),
                    "--metrics-address",
                    "127.0.0.1",
                    "--liveness",
                    f"http://127.0.0.1:{self.liveness_port}/healthz",
                ],
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def metrics(self) -> str:
        """The Prometheus text the operator serves on --metrics-port."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with node_network(self.cluster), urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def passes(self) -> int:
        """Reconcile passes this process has begun in its namespace (its metrics)."""
        prefix = f'modelpipe_reconciles_total{{namespace="{self.namespace}"}} '
        lines = self.metrics().splitlines()
        return sum(int(float(line.split()[-1])) for line in lines if line.startswith(prefix))

    def looked_again(self, ns: Namespace, *, name: str = "iris", timeout: float = 60) -> None:
        """Return once a whole pass over ``name`` has run that began after this call.

        In place of "sleep, then assert nothing changed": two rounds of a harmless annotation
        (an update, so a pass) and a wait for the pass counter to move. Passes over one
        pipeline run one at a time and are counted as they begin, so a pass begun after the
        second round means the one seen after the first, begun after this call, has ended.
        """
        for _ in range(2):
            before = self.passes()
            poke = f"{POKE_ANNOTATION}={time.monotonic_ns()}"
            ns.kubectl("annotate", "--overwrite", "modelpipeline", name, poke)
            wait_for("a reconcile pass", partial(self._passed, before), timeout=timeout, every=0.2)

    def _passed(self, count: int) -> bool:
        return self.passes() > count

    def liveness(self) -> tuple[int, str]:
        """kopf's liveness endpoint: HTTP status and body."""
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        with node_network(self.cluster), urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), str(response.read().decode())

    def kill(self) -> None:
        """SIGKILL: no cleanup, like a node failure."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log"))
        )


class Namespace:
    """kubectl against one namespace, returning parsed JSON."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster, self.name = cluster, name

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("--namespace", self.name, *args, input=input, check=check)

    def apply(self, *documents: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents), check=False)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        done = self.kubectl("get", kind, name, "-o", "json", check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def items(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + (["-l", selector] if selector else [])
        return list(json.loads(self.kubectl(*args).stdout)["items"])

    def pipeline(self, name: str = "iris") -> dict[str, Any]:
        found = self.get("modelpipeline", name)
        assert found is not None, f"ModelPipeline {name} is gone"
        return found

    def jobs(self, pipeline: str = "iris") -> list[str]:
        return sorted(
            j["metadata"]["name"] for j in self.items("jobs", f"modelpipe.io/pipeline={pipeline}")
        )

    def events(self, reason: str) -> list[str]:
        return [
            e["message"]
            for e in self.items("events")
            if e.get("reason") == reason and e["involvedObject"]["kind"] == "ModelPipeline"
        ]

    def patch(self, name: str, patch: dict[str, Any], kind: str = "modelpipeline") -> None:
        self.kubectl("patch", kind, name, "--type", "merge", "-p", json.dumps(patch))

    def retrain(self, token: str, *, name: str = "iris") -> None:
        """Ask for a new run of the same inputs (a new token each time: one run each)."""
        annotation = f"{RETRAIN_ANNOTATION}={token}"
        self.kubectl("annotate", "--overwrite", "modelpipeline", name, annotation)


def condition(pipeline: dict[str, Any], type_: str) -> tuple[str, str] | None:
    for c in pipeline.get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return c["status"], c["reason"]
    return None


def serving_version(pipeline: dict[str, Any]) -> str | None:
    return (pipeline.get("status", {}).get("production") or {}).get("modelVersion")


def runs(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recorded run, newest first: status.lastRun, then status.history."""
    status = pipeline.get("status", {})
    newest = [status["lastRun"]] if status.get("lastRun") else []
    older = [r for r in status.get("history", []) if r not in newest]
    return newest + older


def last_verdict(pipeline: dict[str, Any]) -> str | None:
    return (pipeline.get("status", {}).get("lastRun") or {}).get("verdict")


def example_documents(
    *, data_url: str, name: str = "iris", **spec_changes: Any
) -> list[dict[str, Any]]:
    """The iris example (PVC + pipeline), pointed at the test's data server."""
    pvc, pipeline = list(yaml.safe_load_all(EXAMPLE.read_text()))
    pipeline["metadata"]["name"] = name
    spec = pipeline["spec"]
    spec["dataset"]["uri"] = f"{data_url}/v1.csv"
    spec["serving"]["progressDeadlineSeconds"] = 20
    for key, value in spec_changes.items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    return [pvc, pipeline]


def predict(ns: Namespace, *, selector: str = SERVING) -> dict[str, Any] | None:
    """Ask every ready serving pod; return the answer if they all agree on one version."""
    answers = []
    for pod in ready_pods(ns, selector):
        try:
            answers.append(answer(ns, pod))
        except OSError:
            return None
    versions = {a["model_version"] for a in answers}
    return answers[0] if len(versions) == 1 else None


def answer(ns: Namespace, pod: dict[str, Any]) -> dict[str, Any]:
    """One serving pod's answer to ``POST /predict`` for one iris row."""
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    request = urllib.request.Request(
        f"http://{pod['status']['podIP']}:8080/predict",
        data=json.dumps({"instances": [row]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with node_network(ns.cluster), urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def ready_pods(ns: Namespace, selector: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in ns.items("pods", selector)
        if not pod["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod["status"].get("conditions", [])
        )
    ]


def model_metadata(ns: Namespace, *, name: str = "iris", selector: str = SERVING) -> dict[str, Any]:
    """``GET /v2/models/{name}`` from a ready serving pod: the model's lineage included."""
    pod = ready_pods(ns, selector)[0]
    url = f"http://{pod['status']['podIP']}:8080/v2/models/{name}"
    with node_network(ns.cluster), urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.loads(response.read()))


def claim_directory(ns: Namespace, claim: str = "iris-models") -> Path:
    """Where the local cluster keeps a bound PVC's files on this machine (a hostPath PV)."""
    volume = wait_for(
        f"PVC {claim} to be bound",
        lambda: (ns.get("pvc", claim) or {}).get("spec", {}).get("volumeName"),
        timeout=30,
    )
    pv = json.loads(ns.cluster.kubectl("get", "pv", volume, "-o", "json").stdout)
    return Path(pv["spec"]["hostPath"]["path"])


def promoted(
    ns: Namespace, *, besides: str | None = None, timeout: float = 150, selector: str = SERVING
) -> str:
    """Wait until a model other than ``besides`` serves and answers; its version."""

    def check() -> str | None:
        version = serving_version(ns.pipeline())
        answer = predict(ns, selector=selector) if version and version != besides else None
        return version if answer and answer["model_version"] == version else None

    return wait_for(f"a model other than {besides} to serve", check, timeout=timeout)


def new_run(ns: Namespace, *, besides: str, timeout: float = 60) -> str:
    """Wait until a run of a model other than ``besides`` is under way; its version."""
    version: str = wait_for(
        "the new run",
        lambda: (
            (run := ns.pipeline()["status"].get("currentRun"))
            and run["modelVersion"] != besides
            and run["modelVersion"]
        ),
        timeout=timeout,
    )
    return version


def settled(
    ns: Namespace, verdict: str, *, timeout: float = 120, name: str = "iris"
) -> dict[str, Any]:
    """Wait until the last run's verdict is ``verdict``; the pipeline then."""

    def check() -> dict[str, Any] | None:
        pipeline = ns.pipeline(name)
        return pipeline if last_verdict(pipeline) == verdict else None

    return wait_for(f"last run {verdict}", check, timeout=timeout)


def trainer_pid(model_version: str, command: str = "train") -> int | None:
    """The host's PID of ``modelpipe-trainer <command>`` in this model's training pod: a
    container's processes are the host's too, seen from here. The runtime sets HOSTNAME
    to the pod's name, ``iris-<model version>-<suffix>``.
    """
    marker = f"HOSTNAME=iris-{model_version}-".encode()
    argv = f"modelpipe-trainer\0{command}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if argv not in (entry / "cmdline").read_bytes():
                continue
            if marker in (entry / "environ").read_bytes():
                return int(entry.name)
        except OSError:  # gone meanwhile
            continue
    return None
