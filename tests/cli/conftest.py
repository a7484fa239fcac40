"""Cluster fixtures for the kubectl plugin's tests (shared with tests/e2e)."""

from __future__ import annotations

from tests.e2e.fixtures import crd, data_url, ns, operator

__all__ = ["crd", "data_url", "ns", "operator"]
