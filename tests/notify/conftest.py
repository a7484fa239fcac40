"""Cluster fixtures for tests/notify/*_cluster.py: the e2e operator and the security tenant."""

from tests.e2e.fixtures import crd, data_url, ns, operator
from tests.security.conftest import tenant

__all__ = ["crd", "data_url", "ns", "operator", "tenant"]
