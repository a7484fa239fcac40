"""Cluster fixtures for tests/notify/*_cluster.py: the e2e operator and the security tenant,
on the session's real node."""

from __future__ import annotations

import pytest
from tests.e2e.fixtures import crd, data_url, ns, operator, reachable
from tests.security.conftest import tenant

from localkube.cluster import Cluster

__all__ = ["cluster", "crd", "data_url", "ns", "operator", "reachable", "tenant"]


@pytest.fixture(scope="session")
def cluster(real_cluster: Cluster) -> Cluster:
    return real_cluster
