"""Shared polling against real loopback servers; time is driven by the test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.sources.conftest import ManualClock, eventually
from tests.sources.servers import DataServer, GitServer, Repo, Served

from modelpipe.api.sources import Credentials, ErrorReason, SecretRef, SourceKey, SourceKind
from modelpipe.planning.polling import Backoff
from modelpipe.sources.ratelimit import RateLimiter
from modelpipe.sources.registry import Follow, SourceRegistry

INTERVAL = 30.0


@pytest.fixture
async def registry(clock: ManualClock) -> AsyncIterator[SourceRegistry]:
    limiter = RateLimiter(clock=clock, rate_per_second=100, burst=100)
    reg = SourceRegistry(
        clock=clock, limiter=limiter, backoff=Backoff(base_seconds=10, cap_seconds=60, jitter=0.5),
        timeout_seconds=20, random_unit=lambda: 0.0,
    )  # fmt: skip
    yield reg
    await reg.close()


def git_key(server: GitServer, ref: str = "main", secret: SecretRef | None = None) -> SourceKey:
    return SourceKey(SourceKind.GIT, f"{server.base_url}/model.git", ref, secret)


async def test_fifty_followers_share_one_ls_remote_per_interval(
    registry: SourceRegistry, clock: ManualClock, git_server: GitServer, repo: Repo
) -> None:
    key = git_key(git_server)
    for n in range(50):
        registry.follow(f"pipeline-{n}", {"code": Follow(key, INTERVAL)})
    await eventually(lambda: registry.checks[key] == 1)
    for interval in range(1, 6):
        await clock.advance_when_asleep(INTERVAL / 2)
        await clock.advance_when_asleep(INTERVAL / 2)
        await eventually(lambda i=interval: registry.checks[key] == 1 + i)
    assert git_server.requests["info/refs"] == 6
    snapshots = [registry.snapshot(f"pipeline-{n}")["code"] for n in range(50)]
    assert {s.state.value for s in snapshots} == {repo.head()}


async def test_push_is_seen_and_announced(
    registry: SourceRegistry, clock: ManualClock, git_server: GitServer, repo: Repo
) -> None:
    key = git_key(git_server)
    registry.follow("p", {"code": Follow(key, INTERVAL)})
    assert await registry.wait_changed("p", timeout_seconds=10)
    first = registry.snapshot("p")["code"].state
    assert first.value == repo.head()
    pushed = repo.commit("new model code")
    await clock.advance_when_asleep(INTERVAL)
    assert await registry.wait_changed("p", timeout_seconds=10)
    state = registry.snapshot("p")["code"].state
    assert (
        state.value == pushed
        and state.resolved_time == clock.now()
        and len(state.change_times) == 2
    )
    await clock.advance_when_asleep(INTERVAL)
    assert not await registry.wait_changed("p", timeout_seconds=0.3)  # same SHA: no announcement


async def test_outage_backs_off_keeps_value_and_recovers(
    registry: SourceRegistry, clock: ManualClock, git_server: GitServer, repo: Repo
) -> None:
    key = git_key(git_server)
    registry.follow("p", {"code": Follow(key, INTERVAL)})
    await eventually(lambda: registry.checks[key] == 1)
    git_server.stop()
    await clock.advance_when_asleep(INTERVAL)
    await eventually(lambda: registry.checks[key] == 2)
    state = registry.snapshot("p")["code"].state
    assert state.error is not None and state.error.reason is ErrorReason.UNREACHABLE
    assert state.value == repo.head() and state.consecutive_failures == 1
    await clock.advance_when_asleep(9)  # back-off is 10 s after the first failure
    assert clock.sleepers == 1 and registry.checks[key] == 2  # not due: still parked
    await clock.advance_when_asleep(1)
    await eventually(lambda: registry.checks[key] == 3)
    await clock.advance_when_asleep(19)  # then 20 s
    assert clock.sleepers == 1 and registry.checks[key] == 3
    git_server.start()
    await clock.advance_when_asleep(1)
    await eventually(lambda: registry.snapshot("p")["code"].state.error is None)
    assert registry.snapshot("p")["code"].state.consecutive_failures == 0


async def test_fixed_credentials_are_tried_at_once(
    registry: SourceRegistry, auth_git_server: GitServer, repo: Repo
) -> None:
    secret = SecretRef("ml", "git-creds")
    key = git_key(auth_git_server, secret=secret)
    registry.follow(
        "p", {"code": Follow(key, INTERVAL, Credentials(username="alice", password="nope"))}
    )
    await eventually(lambda: registry.snapshot("p")["code"].state.error is not None)
    assert registry.snapshot("p")["code"].state.error.reason is ErrorReason.AUTH_FAILED  # type: ignore[union-attr]
    fixed = Credentials(username="alice", password="s3cret-pass")
    registry.follow("p", {"code": Follow(key, INTERVAL, fixed)})  # no clock advance needed
    await eventually(lambda: registry.snapshot("p")["code"].state.value == repo.head())


async def test_unfollowing_stops_the_poller(
    registry: SourceRegistry, clock: ManualClock, git_server: GitServer, repo: Repo
) -> None:
    main, dev = git_key(git_server), git_key(git_server, "dev")
    repo.commit("dev work", branch="dev")
    registry.follow("a", {"code": Follow(main, INTERVAL)})
    registry.follow("b", {"code": Follow(main, INTERVAL)})
    await eventually(lambda: registry.checks[main] == 1)
    registry.follow("a", {"code": Follow(dev, INTERVAL)})  # a switches branch
    await eventually(lambda: registry.checks[dev] == 1)
    registry.forget("b")  # main has no follower left
    await clock.advance_when_asleep(INTERVAL)
    await eventually(lambda: registry.checks[dev] == 2)
    assert registry.checks[main] == 1
    assert registry.snapshot("a")["code"].state.value == repo.head("dev")
    assert registry.snapshot("b") == {}


async def test_shortest_interval_wins(
    registry: SourceRegistry, clock: ManualClock, git_server: GitServer
) -> None:
    key = git_key(git_server)
    registry.follow("slow", {"code": Follow(key, 300)})
    await eventually(lambda: registry.checks[key] == 1)
    registry.follow("fast", {"code": Follow(key, 10)})
    await clock.advance_when_asleep(10)
    await eventually(lambda: registry.checks[key] == 2)


async def test_http_dataset_polls_conditionally(
    registry: SourceRegistry, clock: ManualClock, data_server: DataServer
) -> None:
    url = data_server.put("/train.csv", Served(b"a,b\n1,2\n"))
    key = SourceKey(SourceKind.HTTP, url, max_bytes=1 << 20)
    registry.follow("p", {"dataset": Follow(key, INTERVAL)})
    await eventually(lambda: registry.checks[key] == 1)
    first = registry.snapshot("p")["dataset"].state.value
    await clock.advance_when_asleep(INTERVAL)
    await eventually(lambda: data_server.requests["304"] == 1)
    data_server.put("/train.csv", Served(b"a,b\n1,2\n3,4\n"))
    await clock.advance_when_asleep(INTERVAL)
    await eventually(lambda: registry.snapshot("p")["dataset"].state.value not in (None, first))
