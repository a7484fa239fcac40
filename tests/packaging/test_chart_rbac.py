"""The chart's RBAC and leader strategies, rendered without a cluster.

What each watch scope grants (one ClusterRole, or a Role per watched namespace), what
peering, a lease and standalone add or leave out, a comment on every rule, and the
grants checked against what the operator declares in modelpipe.k8s.calls.RBAC_RULES.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.packaging.chart_helpers import (
    CHART,
    LEASE,
    MODES,
    NAMESPACED,
    HelmRun,
    Render,
    kinds,
    operator_container,
)


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


def test_kueue_access_can_be_turned_off_and_the_operator_is_told(render: Render) -> None:
    def local_queue_rules(*values: str) -> list[dict[str, Any]]:
        (role,) = kinds(render(*values), "ClusterRole")
        return [r for r in role["rules"] if "localqueues" in r["resources"]]

    assert [r["verbs"] for r in local_queue_rules()] == [["get"]]
    assert local_queue_rules("--set", "kueue.enabled=false") == []
    env = {
        e["name"]: e.get("value")
        for e in operator_container(render("--set", "kueue.enabled=false"))["env"]
    }
    assert env["MODELPIPE_KUEUE"] == "false"


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
