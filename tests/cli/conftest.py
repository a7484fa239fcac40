"""Cluster fixtures for the kubectl plugin's tests (shared with tests/e2e), and ``plugin``."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.fixtures import crd, data_url, ns, operator
from tests.e2e.harness import Namespace

from localkube.cluster import Cluster
from modelpipe.cli.main import main

__all__ = ["crd", "data_url", "ns", "operator", "plugin"]


@pytest.fixture
def plugin(cluster: Cluster, ns: Namespace, capsys: pytest.CaptureFixture[str]) -> Any:
    """``plugin(*argv)`` -> (exit code, stdout, stderr), as the admin of the namespace."""

    def call(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--kubeconfig", str(cluster.kubeconfig), "-n", ns.name])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call
