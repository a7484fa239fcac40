"""Argo CD itself judges docs/argocd/health.lua: hack/argocd-health runs it in Argo CD's Go code.

The Go test (hack/argocd-health/health_test.go) installs the script from the argocd-cm
patch users install (docs/argocd/kustomize/argocd-cm.yaml) through Argo CD's settings
manager, as a user's Argo CD would, and runs every case of docs/argocd/health_test.yaml
through the application controller's health call (an argocd-cm override runs without
Lua's standard libraries). Here each Go test and each case becomes a pytest result.

The first run downloads Argo CD's Go module and its dependencies (~1.5 GB into Go's
module cache) and compiles ~1,500 packages: ~11 CPU-minutes, so 6-10 minutes cold on
2 idle cores (39 minutes on a machine loaded 8-fold); seconds warm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "hack" / "argocd-health"
# Argo CD v3.6 needs Go 1.27; the go command fetches that toolchain from the module proxy.
TOOLCHAIN = "go1.27.3"
# Below the test's own timeout, so a slow cold build reports go's output, not a pytest kill.
GO_TEST_TIMEOUT = 1500
CASES = yaml.safe_load((ROOT / "docs" / "argocd" / "health_test.yaml").read_text())["tests"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(GO_TEST_TIMEOUT + 120)]


@pytest.fixture(scope="module")
def go_results() -> dict[str, dict[str, Any]]:
    """Runs ``go test -json`` once; the final event and the output of every (sub)test by name."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("Go is not installed: the Argo CD harness is a Go test (install Go 1.26+)")
    env = {**os.environ, "GOTOOLCHAIN": TOOLCHAIN}
    try:
        done = subprocess.run(
            [go, "test", "-count=1", "-json", "./..."],
            cwd=MODULE,
            env=env,
            capture_output=True,
            text=True,
            timeout=GO_TEST_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(
            f"go test in {MODULE} took over {GO_TEST_TIMEOUT}s:\n{str(e.stderr or '')[-4000:]}"
        )
    results: dict[str, dict[str, Any]] = {}
    for line in done.stdout.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        name = event.get("Test")
        if not name:
            continue
        result = results.setdefault(name, {"action": None, "output": ""})
        if event["Action"] == "output":
            result["output"] += event["Output"]
        elif event["Action"] in ("pass", "fail", "skip"):
            result["action"] = event["Action"]
    if not results:
        pytest.fail(f"go test ran nothing (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return results


def _outcome(results: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    assert name in results, f"go test has no {name}; it ran {sorted(results)}"
    return results[name]


@pytest.mark.parametrize(
    "name", ["TestArgoCDInstallsTheShippedCheck", "TestOverrideRunsWithoutStandardLibraries"]
)
def test_argocd_go_test_passes(go_results: dict[str, dict[str, Any]], name: str) -> None:
    result = _outcome(go_results, name)
    assert result["action"] == "pass", result["output"]


@pytest.mark.parametrize("case", CASES, ids=[c["inputPath"] for c in CASES])
def test_argocd_judges_case(go_results: dict[str, dict[str, Any]], case: dict[str, Any]) -> None:
    result = _outcome(go_results, f"TestHealthCases/{case['inputPath']}")
    assert result["action"] == "pass", result["output"]
