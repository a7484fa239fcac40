"""Cluster fixtures for the kubectl plugin's tests (shared with tests/e2e), on the
session's real node."""

from __future__ import annotations

import pytest
from tests.e2e.fixtures import crd, data_url, ns, operator

from localkube.cluster import Cluster

__all__ = ["cluster", "crd", "data_url", "ns", "operator"]


@pytest.fixture(scope="session")
def cluster(real_cluster: Cluster) -> Cluster:
    return real_cluster
