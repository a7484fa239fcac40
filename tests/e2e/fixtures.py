"""Cluster fixtures shared by tests/e2e and the cluster tests in tests/operator."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.e2e.harness import CRD, POLICY, Namespace, Operator, example_data_server

from localkube.cluster import Cluster
from localkube.reach import exposed


def install_crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(CRD), "-f", str(POLICY))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/modelpipelines.modelpipe.io", "--timeout=60s"
    )


@pytest.fixture(scope="session")
def crd(cluster: Cluster) -> Path:
    install_crd(cluster)
    return CRD


@contextlib.contextmanager
def served_data(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The iris CSVs over HTTP, where the cluster's pods reach them (localkube.reach)."""
    directory = tmp_path_factory.mktemp("iris-data")
    with example_data_server(directory) as served, exposed(cluster, served) as url:
        yield url


@pytest.fixture(scope="session")
def data_url(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_data(cluster, tmp_path_factory) as url:
        yield url


Reachable = Callable[[str], str]


@pytest.fixture
def reachable(cluster: Cluster) -> Iterator[Reachable]:
    """``reachable(url)``: a server on the host's loopback, as the node's pods and an
    operator run on the node reach it, until the test ends (localkube.reach.exposed)."""
    with contextlib.ExitStack() as stack:
        yield lambda url: stack.enter_context(exposed(cluster, url))


@pytest.fixture
def ns(cluster: Cluster, namespace: str, crd: Path) -> Namespace:
    return Namespace(cluster, namespace)


@pytest.fixture
def operator(cluster: Cluster, ns: Namespace, tmp_path: Path) -> Iterator[Operator]:
    running = Operator(cluster, ns.name, tmp_path)
    running.start()
    yield running
    running.stop()
    # Shown by pytest only when the test failed.
    print(
        ns.kubectl("get", "modelpipelines,jobs,pods,deployments", "-o", "wide", check=False).stdout
    )
    print(ns.kubectl("get", "modelpipelines", "-o", "yaml", check=False).stdout[-6000:])
    print(running.logs()[-8000:])
