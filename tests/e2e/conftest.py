"""End-to-end fixtures: the CRD installed, iris data over HTTP, an operator per test."""

from tests.e2e.fixtures import crd, data_url, ns, operator

__all__ = ["crd", "data_url", "ns", "operator"]
