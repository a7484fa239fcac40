"""pytest fixtures for tests that talk to the local cluster.

``cluster`` starts the session's cluster (control plane and a real node) once,
or reuses a running one: ``LOCALKUBE_NAME`` picks which (default ``test``).
``two_nodes`` is a second cluster with two real nodes (``<LOCALKUBE_NAME>-2n``),
started once for the tests that need pods on different nodes and stopped when
the session ends.
``namespace`` gives each test a fresh namespace and deletes it afterwards.
``kube_client`` is an ApiClient for the cluster.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localkube.cluster import Cluster


def _name() -> str:
    return os.environ.get("LOCALKUBE_NAME", "test")


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return Cluster.up(_name())


@pytest.fixture(scope="session")
def two_nodes() -> Iterator[Cluster]:
    two = Cluster.up(f"{_name()}-2n", nodes=2)
    yield two
    # Read afresh: a test may have taken it down (and another brought it up again).
    Cluster.at(two.name).down(quiet=True)


@pytest.fixture(scope="session")
def kube_client(cluster: Cluster) -> Iterator[Any]:
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@contextlib.contextmanager
def fresh_namespace(cluster: Cluster, base: str) -> Iterator[str]:
    """A new namespace named after ``base`` (a test's name), ready for pods: its
    ``default`` ServiceAccount exists. Deleted (without waiting) afterwards."""
    base = "".join(c if c.isalnum() else "-" for c in base.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", name)
    # The serviceaccount controller creates "default" shortly after the namespace;
    # pods created before it exists are refused by the ServiceAccount admission plugin.
    deadline = time.monotonic() + 30
    while cluster.kubectl("get", "sa", "default", "-n", name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name}: the default ServiceAccount never appeared")
        time.sleep(0.1)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_namespace(cluster, request.node.name) as name:
        yield name
