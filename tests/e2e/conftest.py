"""End-to-end fixtures: the CRD installed, iris data over HTTP, an operator per test.

The e2e tests run on the session's cluster (localkube's ``cluster``: kubelet, containerd
and runc running the project's images).
"""

from __future__ import annotations

from tests.e2e.fixtures import crd, data_url, ns, operator, reachable

__all__ = ["crd", "data_url", "ns", "operator", "reachable"]
