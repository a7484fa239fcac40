"""Cluster fixtures for tests/operator/*_cluster.py (shared with tests/e2e)."""

from __future__ import annotations

from tests.e2e.fixtures import crd, data_url, ns, operator, reachable

__all__ = ["crd", "data_url", "ns", "operator", "reachable"]
