"""The Argo CD health check as users install it: Helm values and a kustomize Component.

hack/argocd-health judges docs/argocd/kustomize/argocd-cm.yaml in Argo CD's own Go code
(test_argocd_harness.py); here the other shipped forms are held to that very file, and
kustomize (kubectl's) merges the Component into an existing argocd-cm.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "docs" / "argocd"
KEY = "resource.customizations.health.modelpipe.io_ModelPipeline"
SCRIPT = (ARGOCD / "health.lua").read_text()
REGENERATE = "run: python hack/argocd_snippets.py"


def shipped_patch() -> dict[str, Any]:
    patch = yaml.safe_load((ARGOCD / "kustomize" / "argocd-cm.yaml").read_text())
    assert isinstance(patch, dict)
    return patch


def test_the_shipped_patch_carries_the_script_and_nothing_else() -> None:
    patch = shipped_patch()
    assert (patch["kind"], patch["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert patch["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    assert patch["data"] == {KEY: SCRIPT}, "run: python hack/argocd_snippets.py"


def test_helm_values_write_the_same_argocd_cm_data() -> None:
    """argo-cd's chart renders configs.cm as argocd-cm's data."""
    values = yaml.safe_load((ARGOCD / "argocd-values.yaml").read_text())
    assert values == {"configs": {"cm": shipped_patch()["data"]}}, REGENERATE


def test_gitops_doc_shows_the_shipped_configmap() -> None:
    doc = (ROOT / "docs" / "gitops.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", doc, re.S)]
    shown = [b for b in blocks if isinstance(b, dict) and b.get("kind") == "ConfigMap"]
    assert shown == [shipped_patch()]
    assert "docs/argocd/kustomize" in doc and "docs/argocd/argocd-values.yaml" in doc


def test_kustomization_is_a_component_patching_only_argocd_cm() -> None:
    kustomization = yaml.safe_load((ARGOCD / "kustomize" / "kustomization.yaml").read_text())
    assert kustomization == {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "patches": [{"path": "argocd-cm.yaml"}],
    }


@pytest.mark.cluster  # needs the cluster binaries' kubectl (its built-in kustomize)
def test_kustomize_merges_the_check_into_an_existing_argocd_cm(tmp_path: Path) -> None:
    from localkube import binaries

    kubectl = binaries.ensure(log=lambda _: None) / "kubectl"
    existing: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {"url": "https://argocd.example", "timeout.reconciliation": "180s"},
    }
    (tmp_path / "argocd-cm.yaml").write_text(yaml.safe_dump(existing))
    component = os.path.relpath(ARGOCD / "kustomize", tmp_path)  # kustomize wants it relative
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["argocd-cm.yaml"], "components": [component]})
    )
    built = subprocess.run(
        [str(kubectl), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert built.returncode == 0, built.stderr
    (merged,) = list(yaml.safe_load_all(built.stdout))
    assert merged["data"] == {**existing["data"], KEY: SCRIPT}
    assert merged["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
