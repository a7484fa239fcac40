"""What users of cert-manager's and argo-rollouts' charts expect from ours.

Templated CRDs (crds.enabled, crds.keep), images that follow appVersion, Chart.yaml
metadata, name/namespace overrides, extra args and volumes, a PodMonitor for the
model servers, and a README generated from the values' helm-docs comments.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelpipe"
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
HelmRun = Any  # conftest's fixtures; test modules cannot import conftest
Render = Any
CRD_NAME = "modelpipelines.modelpipe.io"


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = kinds(docs, "Deployment")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_crd_is_a_template_kept_on_uninstall_by_default(render: Render) -> None:
    from modelpipe.api.crdgen import crd

    (rendered,) = kinds(render(), "CustomResourceDefinition")
    assert rendered["spec"] == crd()["spec"]
    assert rendered["metadata"]["name"] == CRD_NAME
    assert rendered["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    }
    assert rendered["metadata"]["labels"]["app.kubernetes.io/instance"] == "mp"


def test_crds_can_be_left_to_someone_else_or_removed_on_uninstall(render: Render) -> None:
    assert not kinds(render("--set", "crds.enabled=false"), "CustomResourceDefinition")
    (unkept,) = kinds(render("--set", "crds.keep=false"), "CustomResourceDefinition")
    assert "annotations" not in unkept["metadata"]


def test_kopf_peering_crds_stay_where_helm_installs_them_first() -> None:
    """The chart creates peering objects, so their kind must exist before the release."""
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == ["kopf.dev_peerings.yaml"]


def test_pod_images_default_to_the_charts_app_version(render: Render) -> None:
    container = operator_container(render())
    env = {e["name"]: e.get("value") for e in container["env"]}
    version = CHART_META["appVersion"]
    assert env["MODELPIPE_TRAINER_IMAGE"] == f"ghcr.io/modelpipe/modelpipe-trainer:{version}"
    assert env["MODELPIPE_SERVER_IMAGE"] == f"ghcr.io/modelpipe/modelpipe-trainer:{version}"
    assert container["image"] == f"ghcr.io/modelpipe/modelpipe-operator:{version}"


def test_chart_yaml_says_where_the_project_lives() -> None:
    assert CHART_META["home"].startswith("https://")
    assert CHART_META["sources"] and all(s.startswith("https://") for s in CHART_META["sources"])
    assert all(m["name"] for m in CHART_META["maintainers"])
    assert CHART_META["icon"].endswith("/main/docs/images/icon.svg")
    assert (ROOT / "docs" / "images" / "icon.svg").read_text().startswith("<svg")


def test_name_overrides_rename_everything(render: Render) -> None:
    named = render("--set", "nameOverride=mlops")
    (deployment,) = kinds(named, "Deployment")
    assert deployment["metadata"]["name"] == "mp-mlops"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "mlops"
    full = render("--set", "fullnameOverride=ops")
    names = {d["metadata"]["name"] for d in full if d["kind"] != "CustomResourceDefinition"}
    assert names == {"ops", "ops-metrics", "ops-admission"}, names


def test_namespace_override_moves_the_operator_and_its_bindings(render: Render) -> None:
    lease = ["--set", "leader.strategy=lease", "--set", "replicaCount=2"]  # its Role and PDB too
    docs = render("--set", "namespaceOverride=ml-ops", *lease)
    assert kinds(docs, "PodDisruptionBudget") and kinds(docs, "Role")
    namespaced = [d for d in docs if "namespace" in d["metadata"]]
    assert namespaced and {d["metadata"]["namespace"] for d in namespaced} == {"ml-ops"}
    (binding,) = kinds(docs, "ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == "ml-ops"


def test_extra_args_and_volumes_reach_the_operator(render: Render) -> None:
    from modelpipe.main import parser

    docs = render(
        "--set", "extraArgs={--egress-deny=10.0.0.0/8}",
        "--set", "extraVolumes[0].name=ca",
        "--set", "extraVolumes[0].configMap.name=corp-ca",
        "--set", "extraVolumeMounts[0].name=ca",
        "--set", "extraVolumeMounts[0].mountPath=/etc/ssl/corp",
    )  # fmt: skip
    container = operator_container(docs)
    assert container["args"][-1] == "--egress-deny=10.0.0.0/8"
    argv = [a.replace("$(POD_IP)", "127.1.0.9") for a in container["args"]]
    assert parser().parse_args(argv).egress_deny == ["10.0.0.0/8"]
    assert {"name": "ca", "mountPath": "/etc/ssl/corp"} in container["volumeMounts"]
    (deployment,) = kinds(docs, "Deployment")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "ca", "configMap": {"name": "corp-ca"}} in volumes
    assert volumes[0]["name"] == "tmp"


def test_model_server_pod_monitor_selects_the_serving_pods(render: Render) -> None:
    """Off by default; on, it selects exactly the labels and port the operator gives them."""
    from tests.operator.builders import meta, spec

    from modelpipe.layout import PIPELINE_LABEL
    from modelpipe.manifests.serving import serving_deployment

    assert not kinds(render(), "PodMonitor")
    (monitor,) = kinds(
        render("--set", "modelServers.podMonitor.enabled=true",
               "--set", "modelServers.podMonitor.labels.release=prometheus"),
        "PodMonitor",
    )  # fmt: skip
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    deployment = serving_deployment(meta=meta(), spec=spec(), version="v1", model_dir="/m/v1")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    selector = monitor["spec"]["selector"]
    assert selector["matchLabels"].items() <= labels.items()
    assert selector["matchExpressions"] == [{"key": PIPELINE_LABEL, "operator": "Exists"}]
    assert PIPELINE_LABEL in labels
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    ports = [p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])]
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
    namespaced = render(
        "--set", "modelServers.podMonitor.enabled=true",
        "--set", "watch.scope=namespaces", "--set", "watch.namespaces={team-a}",
    )  # fmt: skip
    (monitor,) = kinds(namespaced, "PodMonitor")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["team-a"]}


def test_allowed_priority_classes_reach_the_policy_and_the_operator(render: Render) -> None:
    docs = render("--set", "pods.priorityClassNames={batch-low,high}")
    env = {e["name"]: e.get("value") for e in operator_container(docs)["env"]}
    assert env["MODELPIPE_PRIORITY_CLASSES"] == "batch-low,high"
    (policy,) = kinds(docs, "ValidatingAdmissionPolicy")
    rules = [v["expression"] for v in policy["spec"]["validations"]]
    assert sum(r.endswith('priorityClassName in ["batch-low","high"]') for r in rules) == 2
    (default,) = kinds(render(), "ValidatingAdmissionPolicy")
    # Both pods' PriorityClasses and the Kueue WorkloadPriorityClass: none by default.
    assert sum(v["expression"].endswith(" in []") for v in default["spec"]["validations"]) == 3


def test_allowed_workload_priority_classes_reach_the_policy_and_the_operator(
    render: Render,
) -> None:
    docs = render("--set", "kueue.priorityClassNames={batch-low,high}")
    env = {e["name"]: e.get("value") for e in operator_container(docs)["env"]}
    assert env["MODELPIPE_KUEUE_PRIORITY_CLASSES"] == "batch-low,high"
    (policy,) = kinds(docs, "ValidatingAdmissionPolicy")
    rules = [v["expression"] for v in policy["spec"]["validations"]]
    assert sum(r.endswith('workloadPriorityClassName in ["batch-low","high"]') for r in rules) == 1


def test_the_chart_readme_is_generated_from_the_values() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "chartdocs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_value_is_documented_in_helm_docs_form() -> None:
    sys.path.insert(0, str(ROOT / "hack"))
    try:
        import chartdocs
    finally:
        sys.path.remove(str(ROOT / "hack"))
    text = (CHART / "values.yaml").read_text()
    assert chartdocs.undocumented(text) == []
    rows = {r.key: r for r in chartdocs.rows(text)}
    assert rows["image.tag"].default == "the chart's appVersion"
    assert rows["crds.keep"].default == "`true`" and rows["crds.keep"].type == "bool"
    assert chartdocs.undocumented("a:\n  # -- b\n  b: 1\n  c: 2\n") == ["a.c"]
