"""End-to-end fixtures: a real node, the CRD installed, iris data over HTTP, an operator per test.

The e2e tests run on the session's real node (kubelet, containerd and runc running the
project's images): ``cluster`` is localkube's ``real_cluster`` here.
"""

from __future__ import annotations

import pytest
from tests.e2e.fixtures import crd, data_url, ns, operator, reachable

from localkube.cluster import Cluster

__all__ = ["cluster", "crd", "data_url", "ns", "operator", "reachable"]


@pytest.fixture(scope="session")
def cluster(real_cluster: Cluster) -> Cluster:
    return real_cluster
