"""Fixtures for the sources tests: loopback servers and a clock the test drives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.e2e.fixtures import reachable
from tests.e2e.harness import example_csv_versions
from tests.sources.servers import DataServer, GitServer, Repo, _Server

__all__ = [
    "auth_git_server", "clock", "data_server", "git_server", "iris_csv", "reachable",
    "repo",
]  # fmt: skip
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock that only moves when the test says so; sleepers wake when their time comes."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._start = start
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._now + timedelta(seconds=seconds), future)
        self._sleepers.append(entry)
        try:
            await future
        finally:
            if entry in self._sleepers:  # cancelled: a stale sleeper must not count
                self._sleepers.remove(entry)

    @property
    def sleepers(self) -> int:
        return len(self._sleepers)

    async def advance_when_asleep(self, seconds: float, *, sleepers: int = 1) -> None:
        """Advance once the code under test is asleep, so no wake-up is lost to a race."""
        await eventually(lambda: self.sleepers >= sleepers)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        due = [(t, f) for t, f in self._sleepers if t <= self._now]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self._now]
        for _, future in due:
            if not future.done():
                future.set_result(None)


async def eventually(predicate: object, *, seconds: float = 10.0) -> None:
    """Wait (bounded, in real time) for I/O started by the code under test to land."""
    assert callable(predicate)
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {seconds}s")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def _for_pods(server: _Server, request: pytest.FixtureRequest) -> None:
    """In a cluster test, the server hands out the URL that the node's pods and an
    operator run on the node reach (``reachable``, tests/e2e/fixtures.py)."""
    if request.node.get_closest_marker("cluster"):
        server.public_base = request.getfixturevalue("reachable")(server.local_url)


@pytest.fixture
def git_server(repo: Repo, request: pytest.FixtureRequest) -> Iterator[GitServer]:
    server = GitServer(repo.bare.parent)
    server.start()
    _for_pods(server, request)
    yield server
    server.stop()


@pytest.fixture
def auth_git_server(repo: Repo, request: pytest.FixtureRequest) -> Iterator[GitServer]:
    server = GitServer(repo.bare.parent, auth=("alice", "s3cret-pass"))
    server.start()
    _for_pods(server, request)
    yield server
    server.stop()


@pytest.fixture
def data_server(request: pytest.FixtureRequest) -> Iterator[DataServer]:
    server = DataServer()
    server.start()
    _for_pods(server, request)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The example's dataset versions as bytes (examples/iris/datasets.py)."""
    return example_csv_versions(tmp_path_factory.mktemp("iris"))
