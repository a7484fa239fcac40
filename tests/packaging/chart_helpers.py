"""What the chart tests share: the values of each mode, and picking from rendered manifests.

Test modules cannot import conftest (pytest's importlib mode), so the types of its
``helm`` and ``render`` fixtures are named here as Any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localkube.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelpipe"
HelmRun = Any  # conftest.HelmRun
Render = Any  # conftest.Render

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


def apply_crds(cluster: Cluster) -> None:
    """What `helm install` does first; server-side so other tests' applies co-own the fields."""
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=packaging-tests",
        "-f", str(CHART / "crds"), "-f", str(ROOT / "crds" / "modelpipe.io_modelpipelines.yaml"),
    )  # fmt: skip
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
