"""The Helm chart without a cluster: lint, bad values, and what each mode renders.

The same manifests go through server-side dry-run against the real apiserver in
test_chart_cluster.py; here we pin down the chart's own decisions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelpipe"
HelmRun = Any  # conftest.HelmRun; test modules cannot import conftest
Render = Any

NAMESPACED = ["--set", "watch.scope=namespaces", "--set", "watch.namespaces={team-a,team-b}"]
PEERING = ["--set", "leader.strategy=peering"]
LEASE = ["--set", "leader.strategy=lease", "--set", "replicaCount=2"]
MODES = {
    "cluster": [],
    "namespaces": NAMESPACED,
    "cluster-peering": PEERING,
    "namespaces-peering": [*NAMESPACED, *PEERING],
}


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = kinds(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


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


def test_lease_allows_a_standby_with_a_disruption_budget_and_only_its_lease(
    helm: HelmRun, render: Render
) -> None:
    docs = render(*LEASE)
    (deployment,) = kinds(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    args = operator_container(docs)["args"]
    assert "--leader-election=modelpipe-operator" in args and "--standalone" not in args
    (pdb,) = kinds(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    (lease_role,) = [r for r in kinds(docs, "Role") if r["metadata"]["name"].endswith("-lease")]
    assert lease_role["metadata"]["namespace"] == "modelpipe-system"  # the release namespace
    named = [r for r in lease_role["rules"] if "resourceNames" in r]
    assert named == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["modelpipe-operator"],
            "verbs": ["get", "patch"],
        }
    ]
    assert not kinds(render(), "PodDisruptionBudget")  # one replica: a budget would block drains
    assert "--leader-election-namespace=$(POD_NAMESPACE)" in args
    assert helm("lint", "--strict", str(CHART), *LEASE).returncode == 0


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


def test_cluster_mode_grants_one_cluster_role_and_watches_everything(render: Render) -> None:
    docs = render()
    assert [d["metadata"]["name"] for d in kinds(docs, "ClusterRole")] == ["mp-modelpipe"]
    (binding,) = kinds(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "mp-modelpipe", "namespace": "modelpipe-system"}
    ]
    assert not kinds(docs, "Role") and not kinds(docs, "RoleBinding")
    args = operator_container(docs)["args"]
    assert "--all-namespaces" in args and "--standalone" in args
    assert not [a for a in args if a.startswith("--namespace")]


def test_namespaced_mode_grants_a_role_per_namespace_and_nothing_cluster_wide(
    render: Render,
) -> None:
    docs = render(*NAMESPACED)
    assert {d["metadata"]["namespace"] for d in kinds(docs, "Role")} == {"team-a", "team-b"}
    bindings = kinds(docs, "RoleBinding")
    assert {b["metadata"]["namespace"] for b in bindings} == {"team-a", "team-b"}
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"][0]["namespace"] == "modelpipe-system"
    assert not kinds(docs, "ClusterRole") and not kinds(docs, "ClusterRoleBinding")
    args = operator_container(docs)["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args
    assert "--all-namespaces" not in args


def test_roles_hold_the_same_rules_as_the_cluster_role(render: Render) -> None:
    (cluster_role,) = kinds(render(), "ClusterRole")
    for role in kinds(render(*NAMESPACED), "Role"):
        assert role["rules"] == cluster_role["rules"]


@pytest.mark.parametrize(
    ("mode", "peering_kind", "rule_resource"),
    [
        ("cluster-peering", "ClusterKopfPeering", "clusterkopfpeerings"),
        ("namespaces-peering", "KopfPeering", "kopfpeerings"),
    ],
)
def test_peering_creates_its_object_and_grants_only_its_resource(
    render: Render, mode: str, peering_kind: str, rule_resource: str
) -> None:
    docs = render(*MODES[mode])
    peerings = kinds(docs, peering_kind)
    assert peerings and all(p["metadata"]["name"] == "modelpipe" for p in peerings)
    roles = kinds(docs, "ClusterRole") + kinds(docs, "Role")
    resources = {r for role in roles for rule in role["rules"] for r in rule["resources"]}
    assert rule_resource in resources
    assert {"clusterkopfpeerings", "kopfpeerings"} - {rule_resource} - resources
    args = operator_container(docs)["args"]
    assert "--peering=modelpipe" in args and "--standalone" not in args
    (deployment,) = kinds(docs, "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"


def test_standalone_never_runs_two_operators_at_once(render: Render) -> None:
    docs = render()
    (deployment,) = kinds(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not kinds(docs, "ClusterKopfPeering") and not kinds(docs, "KopfPeering")
    (cluster_role,) = kinds(docs, "ClusterRole")
    assert "kopf.dev" not in {g for rule in cluster_role["rules"] for g in rule["apiGroups"]}


@pytest.mark.parametrize("mode", MODES)
def test_every_rbac_rule_says_which_code_needs_it(helm: HelmRun, mode: str) -> None:
    """A comment directly above each rule, in the rendered manifest users read."""
    out = helm("template", "mp", str(CHART), *MODES[mode]).stdout
    roles = [d for d in out.split("\n---") if re.search(r"^kind: (Cluster)?Role$", d, re.M)]
    assert roles
    for role in roles:
        lines = role.splitlines()
        rule_lines = [i for i, line in enumerate(lines) if line.strip().startswith("- apiGroups:")]
        assert rule_lines
        for i in rule_lines:
            assert lines[i - 1].strip().startswith("#"), f"uncommented rule: {lines[i]}"


@pytest.mark.parametrize("mode", MODES)
def test_rules_name_exact_verbs_and_resources(render: Render, mode: str) -> None:
    allowed_verbs = {"get", "list", "watch", "create", "patch", "delete"}
    for role in kinds(render(*MODES[mode]), "ClusterRole") + kinds(render(*MODES[mode]), "Role"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
            assert set(rule["verbs"]) <= allowed_verbs, rule
            if "secrets" in rule["resources"]:
                assert rule["verbs"] == ["get"], "Secrets are read by name, never listed"


def test_secret_access_can_be_turned_off(render: Render) -> None:
    (role,) = kinds(render("--set", "rbac.readSecrets=false"), "ClusterRole")
    assert "secrets" not in {r for rule in role["rules"] for r in rule["resources"]}


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


def test_operator_command_is_spelled_out_and_probed_on_kopf_liveness(render: Render) -> None:
    container = operator_container(render())
    assert container["command"] == ["modelpipe-operator"]
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


_KOPF_FALLS_BACK = "kopf only observes it to notice changes later, and falls back when refused"
# Declared in modelpipe.k8s.calls.RBAC_RULES but deliberately not granted, and why.
# test_rbac_minimality.py shows the operator completes the whole loop without them.
NOT_GRANTED = {
    ("modelpipe.io", "modelpipelines", "patch"): "kopf keeps its diff base in status, no finalizer",
    ("modelpipe.io", "modelpipelines/status", "get"): "status is read with the object, never alone",
    ("batch", "jobs", "get"): "Jobs are listed by label, never read one by one",
    ("events.k8s.io", "events", "create"): "kopf and the executor post core/v1 Events",
    ("apiextensions.k8s.io", "customresourcedefinitions", "get"): _KOPF_FALLS_BACK,
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"): _KOPF_FALLS_BACK,
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"): _KOPF_FALLS_BACK,
    ("", "namespaces", "get"): _KOPF_FALLS_BACK,
    ("", "namespaces", "list"): _KOPF_FALLS_BACK,
    ("", "namespaces", "watch"): _KOPF_FALLS_BACK,
    ("kopf.dev", "kopfpeerings", "get"): "kopf peering lists, watches and patches only",
    ("kopf.dev", "clusterkopfpeerings", "get"): "kopf peering lists, watches and patches only",
}


def test_chart_grants_exactly_what_the_operator_declares_minus_the_proven_extras(
    render: Render,
) -> None:
    """A new call in modelpipe.k8s.calls fails here until the chart grants it, with a comment."""
    from modelpipe.k8s.calls import RBAC_RULES

    declared = {(r.api_group, r.resource, verb) for r in RBAC_RULES for verb in r.verbs}
    granted = {
        (group, resource, verb)
        for values in (MODES["cluster-peering"], MODES["namespaces-peering"], LEASE)
        for role in kinds(render(*values), "ClusterRole") + kinds(render(*values), "Role")
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted <= declared, f"granted but not declared in calls.py: {granted - declared}"
    assert declared - granted == set(NOT_GRANTED), "update the chart's rules or NOT_GRANTED"


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
