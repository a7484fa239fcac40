"""Fixtures for the packaging tests: helm (built from its Go module), the rendered chart,
and the session's cluster (localkube's): the chart's operator pod runs from its image there.

Test modules cannot import each other here (pytest's importlib mode), so the
shared helpers are fixtures that return plain callables.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelpipe"
RELEASE_NAMESPACE = "modelpipe-system"

HelmRun = Callable[..., subprocess.CompletedProcess[str]]
Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """Builds helm once; hack/helm/build.sh caches it under ~/.cache/modelpipe/helm.

    `make test` and `make check` build it before pytest starts (`make tools`), so this
    normally finds the cache. A cold build from inside pytest must finish within
    pytest-timeout's per-test limit (600 s, which covers fixtures), so it is bounded
    below that and says what to run instead of timing out 45 tests.
    """
    try:
        built = subprocess.run(
            ["bash", str(ROOT / "hack" / "helm" / "build.sh")],
            capture_output=True,
            text=True,
            timeout=540,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            "helm's cold build did not finish within 540 s (pytest's per-test limit is 600 s); "
            "build it first with `make tools` (make check and make test do this), then rerun"
        )
    assert built.returncode == 0, f"hack/helm/build.sh failed:\n{built.stderr[-4000:]}"
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def helm(helm_bin: Path) -> HelmRun:
    """``helm(*args, kubeconfig=None, check=True)``; a failure shows helm's stderr."""

    def run(
        *args: str, kubeconfig: Path | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(helm_bin), *args]
        if kubeconfig is not None:
            argv += ["--kubeconfig", str(kubeconfig)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
        return result

    return run


@pytest.fixture(scope="session")
def render(helm: HelmRun) -> Render:
    """``render("--set", "a=b", ...)``: the chart's manifests as dicts (those in crds/ aside)."""

    def run(*values: str, release: str = "mp") -> list[dict[str, Any]]:
        out = helm("template", release, str(CHART), "--namespace", RELEASE_NAMESPACE, *values)
        return [doc for doc in yaml.safe_load_all(out.stdout) if doc]

    return run
