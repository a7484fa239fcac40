"""The chart's RBAC runs the whole pipeline loop, and every verb it grants is needed.

One release of the chart (namespaced mode, watching one fresh namespace) runs the
operator as a pod under its own ServiceAccount token, from its image, on the
session's real node. First the full loop: the example pipeline trains, passes its gate and
serves predictions. Then, for each verb of each rule, the test removes that verb
from the live Role, drives the behaviour that needs it, and finds the apiserver's
own denial (``User "system:serviceaccount:..." cannot <verb> resource ...``) in
the operator's logs or the pipeline's status. The verb is restored before the
next case. A verb no behaviour needs would fail its case: nothing would be denied.
The rig is in rbac_rig.py and the cases, one per verb, in rbac_cases.py.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.e2e.harness import example_data_server
from tests.packaging.chart_helpers import apply_crds
from tests.packaging.rbac_cases import (
    CASES,
    PREPARE,
    Case,
    bump_generation,
    observed_generation_catches_up,
    restart,
)
from tests.packaging.rbac_rig import EXAMPLE, INSTANCE, ROOT, Rig, pod_ready

from localkube.cluster import Cluster
from localkube.reach import exposed, node_network
from localkube.waiting import wait_for

CHART = ROOT / "charts" / "modelpipe"

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def data_url(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        example_data_server(tmp_path_factory.mktemp("iris")) as served,
        exposed(cluster, served) as url,
    ):
        yield url  # where the node's pods reach it (localkube.reach)


@pytest.fixture(scope="module")
def rig(cluster: Cluster, helm: Any, data_url: str) -> Iterator[Rig]:
    """helm install in namespaced mode, then the example pipeline until it serves."""
    apply_crds(cluster)
    namespace = f"rbac-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    rig = Rig(cluster, namespace, f"mp{uuid.uuid4().hex[:6]}", data_url)
    helm(
        "install", rig.release, str(CHART), "--namespace", namespace, "--wait", "--timeout=120s",
        "--set", "watch.scope=namespaces", "--set", f"watch.namespaces={{{namespace}}}",
        "--set", "logging.format=plain", "--set", "crds.enabled=false",
        kubeconfig=cluster.kubeconfig,
    )  # fmt: skip
    (pvc, _) = yaml.safe_load_all(EXAMPLE.read_text())
    rig.apply(pvc, rig.pipeline_doc("iris"))
    wait_for("the example pipeline to serve", lambda: rig.serving("iris"), timeout=240)
    yield rig
    print(rig.kubectl("get", "modelpipelines,jobs,pods,deployments", "-o", "wide"))
    print("\n".join(text[-6000:] for text in rig.logs().values()))
    helm("uninstall", rig.release, "--namespace", namespace, "--wait",
         kubeconfig=cluster.kubeconfig, check=False)  # fmt: skip
    cluster.kubectl("delete", "clusterrole,clusterrolebinding", "-l", f"{INSTANCE}={rig.release}",
                    check=False)  # fmt: skip
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_helm_install_runs_the_operator_under_its_service_account_and_serves_a_model(
    rig: Rig,
) -> None:
    (pod,) = rig.operator_pods()
    assert pod["spec"]["serviceAccountName"] == f"{rig.release}-modelpipe"
    assert "command" not in pod["spec"]["containers"][0], "the image's entrypoint runs"
    assert pod_ready(pod)
    version = rig.serving("iris")
    deployment = rig.get("deployment", "iris")
    assert deployment is not None
    serving = "modelpipe.io/pipeline=iris,app.kubernetes.io/component=serving"
    pods = json.loads(rig.kubectl("get", "pods", "-l", serving, "-o", "json"))["items"]
    ip = next(p["status"]["podIP"] for p in pods if pod_ready(p))
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    request = urllib.request.Request(
        f"http://{ip}:8080/predict",
        data=json.dumps({"instances": [row]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with node_network(rig.cluster), urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["predictions"] == ["setosa"]
    assert answer["model_version"] == version


def test_a_pipeline_in_an_unwatched_namespace_is_ignored(rig: Rig) -> None:
    """Accepted by the apiserver, never touched: no status, no Job (NOTES.txt says so)."""
    unwatched = f"unwatched-{uuid.uuid4().hex[:6]}"
    rig.cluster.kubectl("create", "namespace", unwatched)
    try:
        doc = rig.pipeline_doc("stray")
        doc["metadata"]["namespace"] = unwatched
        rig.cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))
        bump_generation(rig)  # proof that the operator is working meanwhile
        observed_generation_catches_up(rig)
        stray = json.loads(
            rig.cluster.kubectl(
                "get", "modelpipeline", "stray", "-n", unwatched, "-o", "json"
            ).stdout
        )
        assert "status" not in stray
        jobs = rig.cluster.kubectl("get", "jobs", "-n", unwatched, "-o", "name").stdout
        assert jobs.strip() == ""
    finally:
        rig.cluster.kubectl("delete", "namespace", unwatched, "--wait=false", check=False)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_granted_verb_is_needed(rig: Rig, case: Case) -> None:
    if case.id in PREPARE:
        PREPARE[case.id](rig)
    rig.mark()
    with rig.without(case.group, case.resource, case.verb):
        case.drive(rig)
        evidence = rig.wait_denied(case.verb, case.resource, case.group, timeout=case.timeout)
        print(f"{case.behaviour}: denied without {case.verb} {case.resource}:\n{evidence}")
        if case.check is not None:
            case.check(rig)
    if case.heal is not None:
        case.heal(rig)


@pytest.fixture(scope="module")
def peering(rig: Rig, helm: Any) -> Rig:
    """The same release switched to kopf peering (a KopfPeering in the watched namespace)."""
    helm(
        "upgrade", rig.release, str(CHART), "--namespace", rig.namespace, "--reuse-values",
        "--set", "leader.strategy=peering", "--wait", "--timeout=120s",
        kubeconfig=rig.cluster.kubeconfig,
    )  # fmt: skip
    assert rig.get("kopfpeering", "modelpipe") is not None
    return rig


@pytest.mark.parametrize("verb", ["list", "watch", "patch"])
def test_every_peering_verb_is_needed(peering: Rig, verb: str) -> None:
    """kopf peering: list+watch the KopfPeering, patch keep-alives into it."""
    with peering.without("kopf.dev", "kopfpeerings", verb):
        restart(peering)
        evidence = peering.wait_denied(verb, "kopfpeerings", "kopf.dev")
        print(f"kopf peering denied without {verb} kopfpeerings:\n{evidence}")
    restart(peering)


def test_restarts_and_the_upgrade_neither_retrained_nor_changed_production(rig: Rig) -> None:
    """Seven operator restarts and a helm upgrade later: the same model serves, no new Job."""
    jobs = rig.kubectl("get", "jobs", "-l", "modelpipe.io/pipeline=iris", "-o", "name").split()
    assert len(jobs) == 2, f"the first run and the one retrain only: {jobs}"
    assert rig.serving("iris") not in (None, rig.before)


def test_the_cases_cover_every_granted_verb(rig: Rig) -> None:
    granted = {
        (group, resource, verb)
        for rule in rig.rules()
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    peering = {("kopf.dev", "kopfpeerings", v) for v in ("list", "watch", "patch")}
    assert granted - peering == {(c.group, c.resource, c.verb) for c in CASES}
