"""What the chart tests share: the values of each mode, and picking from rendered manifests.

Test modules cannot import conftest (pytest's importlib mode), so the types of its
``helm`` and ``render`` fixtures are named here as Any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
