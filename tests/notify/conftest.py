"""Cluster fixtures for tests/notify/*_cluster.py: the e2e operator and the security tenant."""

from __future__ import annotations

from tests.e2e.fixtures import crd, data_url, ns, operator, reachable
from tests.security.conftest import tenant

__all__ = ["crd", "data_url", "ns", "operator", "reachable", "tenant"]
