"""The Helm chart without a cluster: lint, bad values, and what reaches the operator.

The same manifests go through server-side dry-run against the real apiserver in
test_chart_cluster.py; here we pin down the chart's own decisions. What each watch
scope and leader strategy grants and runs is in test_chart_rbac.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.packaging.chart_helpers import CHART, MODES, HelmRun, Render, kinds, operator_container


@pytest.mark.parametrize("mode", MODES)
def test_helm_lint_is_clean(helm: HelmRun, mode: str) -> None:
    result = helm("lint", "--strict", str(CHART), *MODES[mode])
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            "watch.scope=everything",
            "at '/watch/scope': value must be one of 'cluster', 'namespaces'",
        ),
        ("replicaCount=-1", "at '/replicaCount': minimum: got -1, want 0"),
        ("replicaCount=two", "at '/replicaCount': got string, want integer"),
        ("logging.format=xml", "at '/logging/format': value must be one of 'json', 'plain'"),
        ("logging.level=warning", "at '/logging/level': value must be one of 'info', 'debug'"),
        ("leader.strategy=election", "at '/leader/strategy': value must be one of"),
        ("image.digest=latest", "at '/image/digest': 'latest' does not match pattern"),
        ("watch.namespaces={Team_A}", "at '/watch/namespaces/0': 'Team_A' does not match"),
        ("replicas=2", "additional properties 'replicas' not allowed"),
        ("metrics.port=70000", "at '/metrics/port': maximum: got 70,000, want 65,535"),
        ("metrics.serviceMonitor.interval=soon", "at '/metrics/serviceMonitor/interval'"),
        ("extraArgs={run}", "at '/extraArgs/0': 'run' does not match pattern"),
        ("namespaceOverride=ML_Ops", "at '/namespaceOverride': 'ML_Ops' does not match pattern"),
        ("trainer.image=registry.local/trainer:1", "at '/trainer/image': got string, want object"),
        ("crds.enabled=maybe", "at '/crds/enabled': got string, want boolean"),
        ("modelServers.podMonitor.interval=often", "at '/modelServers/podMonitor/interval'"),
        ("kueue.defaultQueue=Team_A", "at '/kueue/defaultQueue': 'Team_A' does not match"),
        ("server.progressDeadlineSeconds.onnx=0", "at '/server/progressDeadlineSeconds/onnx'"),
        ("server.progressDeadlineSeconds.scikitLearn=-60", "/progressDeadlineSeconds/scikitLearn"),
    ],
)
def test_schema_rejects_wrong_values_naming_them(helm: HelmRun, values: str, message: str) -> None:
    result = helm("template", "mp", str(CHART), "--set", values, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["--set", "watch.scope=namespaces"],
            'watch.scope is "namespaces" but watch.namespaces is empty: list the namespaces',
        ),
        (
            ["--set", "watch.namespaces={team-a}"],
            'watch.namespaces is set (team-a) but watch.scope is "cluster"',
        ),
        (
            ["--set", "replicaCount=3"],
            'replicaCount is 3 but leader.strategy is "standalone"',
        ),
        (
            ["--set", "replicaCount=2", "--set", "leader.strategy=peering"],
            "replicaCount is 2: kopf peering pauses every operator when peers share a priority",
        ),
        (
            [
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--set",
                "metrics.service.enabled=false",
            ],
            "metrics.serviceMonitor.enabled needs metrics.service.enabled",
        ),
        (
            ["--set", "serviceAccount.create=false"],
            "serviceAccount.name is required when serviceAccount.create is false",
        ),
        (
            ["--set", "trainingQueue.maxJobs=0"],
            "trainingQueue.maxJobs is 0: a limit below 1 would never start a training Job",
        ),
        (
            ["--set", "trainingQueue.maxJobsPerNamespace=-2"],
            "trainingQueue.maxJobsPerNamespace is -2: a limit below 1 would never start",
        ),
    ],
)
def test_inconsistent_values_fail_with_a_clear_message(
    helm: HelmRun, values: list[str], message: str
) -> None:
    result = helm("template", "mp", str(CHART), *values, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "goroutine" not in result.stderr  # a message, not a crash


def test_training_queue_limits_reach_the_operator_only_when_set(render: Render) -> None:
    def args(*values: str) -> list[str]:
        return [a for a in operator_container(render(*values))["args"] if "training-jobs" in a]

    assert args() == []
    assert args(
        "--set", "trainingQueue.maxJobs=4", "--set", "trainingQueue.maxJobsPerNamespace=2"
    ) == [
        "--max-training-jobs=4",
        "--max-training-jobs-per-namespace=2",
    ]


def test_the_kueue_default_queue_reaches_the_operator(render: Render) -> None:
    def env(*values: str) -> dict[str, str | None]:
        return {e["name"]: e.get("value") for e in operator_container(render(*values))["env"]}

    assert (env()["MODELPIPE_KUEUE"], env()["MODELPIPE_KUEUE_DEFAULT_QUEUE"]) == ("true", "")
    assert env("--set", "kueue.defaultQueue=batch")["MODELPIPE_KUEUE_DEFAULT_QUEUE"] == "batch"


def test_the_default_rollout_deadlines_reach_the_operator(render: Render) -> None:
    """values server.progressDeadlineSeconds become the operator's config, by runtime."""
    from modelpipe.api.config import OperatorConfig

    def config(*values: str) -> OperatorConfig:
        env = {e["name"]: e.get("value") for e in operator_container(render(*values))["env"]}
        return OperatorConfig.from_environment({k: v for k, v in env.items() if v is not None})

    default = config()
    assert (default.progress_deadline_onnx, default.progress_deadline_sklearn) == (200, 600)
    tuned = config("--set", "server.progressDeadlineSeconds.onnx=90")
    assert (tuned.progress_deadline_onnx, tuned.progress_deadline_sklearn) == (90, 600)


def test_pod_meets_pod_security_restricted(render: Render) -> None:
    (deployment,) = kinds(render(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
    assert all("hostPath" not in v for v in pod.get("volumes", []))
    container = operator_container(render())
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_operator_runs_the_image_entrypoint_and_is_probed_on_kopf_liveness(
    render: Render,
) -> None:
    container = operator_container(render())
    assert "command" not in container, "the image's ENTRYPOINT (modelpipe-operator) runs"
    assert container["args"][0] == "run"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--liveness=http://$(POD_IP):{ports['healthz']}/healthz" in container["args"]
    assert f"--metrics-port={ports['metrics']}" in container["args"]
    assert "--metrics-address=$(POD_IP)" in container["args"]
    assert "--verbose" not in container["args"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}


@pytest.mark.parametrize("mode", MODES)
def test_operator_cli_accepts_the_rendered_arguments(render: Render, mode: str) -> None:
    """The chart and modelpipe-operator's argparse agree, in every mode."""
    from modelpipe.main import parser

    container = operator_container(render(*MODES[mode], "--set", "logging.level=debug"))
    argv = [a.replace("$(POD_IP)", "127.1.0.9") for a in container["args"]]
    args = parser().parse_args(argv)
    assert args.command == "run"
    assert args.all_namespaces == (not mode.startswith("namespaces"))
    assert args.namespace == (["team-a", "team-b"] if mode.startswith("namespaces") else None)
    assert args.peering == ("modelpipe" if mode.endswith("peering") else None)
    assert args.liveness == "http://127.1.0.9:8080/healthz"
    assert (args.metrics_port, args.metrics_address, args.verbose) == (9090, "127.1.0.9", True)


def test_log_and_image_values_reach_the_operator(render: Render) -> None:
    container = operator_container(
        render(
            "--set", "logging.level=debug",
            "--set", "logging.format=plain",
            "--set", "trainer.image.repository=registry.local/trainer",
            "--set", "trainer.image.tag=v1",
            "--set", "server.image.repository=registry.local/server",
            "--set", "server.image.digest=sha256:" + "b" * 64,
            "--set", "image.digest=sha256:" + "a" * 64,
        )
    )  # fmt: skip
    assert "--verbose" in container["args"]
    assert "--log-format=plain" in container["args"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELPIPE_TRAINER_IMAGE"] == "registry.local/trainer:v1"
    assert env["MODELPIPE_SERVER_IMAGE"] == "registry.local/server@sha256:" + "b" * 64
    assert container["image"] == "ghcr.io/modelpipe/modelpipe-operator@sha256:" + "a" * 64


def test_default_images_follow_the_app_version(helm: HelmRun, tmp_path: Path) -> None:
    """A release bumps appVersion alone; the operator, trainer and server images follow."""
    chart = tmp_path / "modelpipe"
    shutil.copytree(CHART, chart)
    meta = chart / "Chart.yaml"
    meta.write_text(re.sub(r"(?m)^appVersion: .*$", 'appVersion: "9.8.7"', meta.read_text()))
    out = helm("template", "mp", str(chart), "--namespace", "modelpipe-system").stdout
    container = operator_container([d for d in yaml.safe_load_all(out) if d])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == "ghcr.io/modelpipe/modelpipe-operator:9.8.7"
    assert env["MODELPIPE_TRAINER_IMAGE"] == "ghcr.io/modelpipe/modelpipe-trainer:9.8.7"
    assert env["MODELPIPE_SERVER_IMAGE"] == "ghcr.io/modelpipe/modelpipe-trainer:9.8.7"


def test_metrics_service_and_optional_service_monitor(render: Render) -> None:
    docs = render()
    (service,) = kinds(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert not kinds(docs, "ServiceMonitor")
    monitored = render(
        "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "metrics.serviceMonitor.labels.release=prometheus",
    )  # fmt: skip
    (monitor,) = kinds(monitored, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_chart_crds_are_the_generated_ones() -> None:
    """The chart's copy is generated from the API models too; the drift check covers it."""
    from modelpipe.api.crdgen import CHART_CRD_OUTPUT as copy

    result = subprocess.run(
        [sys.executable, "-m", "modelpipe.api.crdgen", "--check", "-o", str(copy)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_chart_ships_kopf_peering_crds() -> None:
    docs = list(yaml.safe_load_all((CHART / "crds" / "kopf.dev_peerings.yaml").read_text()))
    names = {d["metadata"]["name"]: d["spec"]["scope"] for d in docs}
    assert names == {
        "clusterkopfpeerings.kopf.dev": "Cluster",
        "kopfpeerings.kopf.dev": "Namespaced",
    }


def test_source_bounds_and_egress_policy_reach_the_operator(render: Render) -> None:
    """values.sources -> operator flags -> the limits the pollers use (docs/install.md)."""
    from modelpipe.main import parser
    from modelpipe.sources.egress import EgressPolicy
    from modelpipe.sources.options import source_limits

    container = operator_container(
        render(
            "--set", "sources.minPollInterval=1m",
            "--set", "sources.maxDatasetBytes=5000000000",
            "--set", "sources.egress.deny={10.96.0.0/12,.corp.example}",
            "--set", "sources.egress.allow={169.254.10.0/24}",
        )
    )  # fmt: skip
    argv = [a.replace("$(POD_IP)", "127.1.0.9") for a in container["args"]]
    limits = source_limits(parser().parse_args(argv))
    assert (limits.min_interval_seconds, limits.max_bytes) == (60.0, 5_000_000_000)
    assert limits.egress.check_host("10.100.0.1") and limits.egress.check_host("db.corp.example")
    assert limits.egress.check_host("169.254.10.7") is None
    assert limits.egress.check_host("169.254.169.254")
    default = source_limits(parser().parse_args(operator_container(render())["args"]))
    assert default.egress == EgressPolicy() and default.min_interval_seconds == 10.0
