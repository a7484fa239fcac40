"""Cluster fixtures for tests/operator/*_cluster.py (shared with tests/e2e), on the
session's real node: ``cluster`` is localkube's ``real_cluster`` here too."""

from __future__ import annotations

import pytest
from tests.e2e.fixtures import crd, data_url, ns, operator, reachable

from localkube.cluster import Cluster

__all__ = ["cluster", "crd", "data_url", "ns", "operator", "reachable"]


@pytest.fixture(scope="session")
def cluster(real_cluster: Cluster) -> Cluster:
    return real_cluster
