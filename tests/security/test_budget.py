"""Issue 16, finding 4: one pipeline cannot tie up the shared operator.

The attack: a followed URL without an ETag at ``pollInterval: 1s`` made the
operator download and hash 7.5 GB in 70 s, even with ``suspend: true``. Now the
interval has a floor and ``maxBytes`` a ceiling (chart values ``sources.*``), a
suspended pipeline follows nothing, and each namespace gets its own share of
checks and bytes. Time is the test's clock; servers are on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.sources.conftest import ManualClock, eventually
from tests.sources.servers import DataServer, Served

from modelpipe.api.sources import SourceKey, SourceKind
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.planning.polling import Backoff
from modelpipe.planning.pvcdata import pvc_follow
from modelpipe.sources.follower import follows
from modelpipe.sources.limits import SourceLimits
from modelpipe.sources.ratelimit import RateLimiter
from modelpipe.sources.registry import Follow, SourceRegistry

MiB = 1 << 20


def make_spec(**dataset: Any) -> ModelPipelineSpec:
    return ModelPipelineSpec.model_validate(
        {
            "code": {"git": {"url": "https://git.example/m.git", "ref": "main",
                             "pollInterval": "1s"}},
            "dataset": {"schema": {"target": "y", "features": [{"name": "x"}]},
                        "uri": "https://data.example/x.csv", "pollInterval": "1s", **dataset},
            "training": {"estimator": {"className": "sklearn.linear_model.LogisticRegression"}},
            "serving": {"template": {}},
            "artifacts": {"pvc": "models"},
        }
    )  # fmt: skip


def test_the_poll_interval_has_a_floor_and_max_bytes_a_ceiling() -> None:
    limits = SourceLimits(min_interval_seconds=10, max_bytes=100 * MiB)
    wished = follows(make_spec(maxBytes=10 * 1024 * MiB), namespace="ml", limits=limits)
    assert {role: f.interval_seconds for role, f in wished.items()} == {
        "code": 10.0, "dataset": 10.0,
    }  # fmt: skip
    assert wished["dataset"].key.max_bytes == 100 * MiB
    unset = follows(make_spec(), namespace="ml", limits=limits)["dataset"]
    assert unset.key.max_bytes == 100 * MiB
    small = follows(make_spec(maxBytes=1000, pollInterval="5m"), namespace="ml", limits=limits)
    assert (small["dataset"].key.max_bytes, small["dataset"].interval_seconds) == (1000, 300.0)
    # The defaults, as the chart ships them.
    default = follows(make_spec(maxBytes=10 * 1024 * MiB), namespace="ml")["dataset"]
    assert (default.interval_seconds, default.key.max_bytes) == (10.0, 1 << 30)


def test_a_suspended_pipeline_follows_nothing() -> None:
    assert follows(make_spec(), namespace="ml") != {}
    suspended = make_spec().model_copy(update={"suspend": True})
    assert follows(suspended, namespace="ml") == {}
    on_claim = make_spec(uri="pvc://data/train.csv").model_copy(update={"suspend": True})
    assert pvc_follow(on_claim) is None
    assert pvc_follow(on_claim.model_copy(update={"suspend": False})) is not None


@pytest.fixture
async def registry(clock: ManualClock) -> AsyncIterator[SourceRegistry]:
    limits = SourceLimits(
        min_interval_seconds=1, namespace_checks_per_second=0.1, namespace_checks_burst=1,
        namespace_bytes_per_second=1 * MiB, namespace_bytes_burst=1 * MiB,
    )  # fmt: skip
    reg = SourceRegistry(
        clock=clock, limiter=RateLimiter(clock=clock, rate_per_second=1000, burst=1000),
        backoff=Backoff(base_seconds=10, cap_seconds=60, jitter=0.0), timeout_seconds=20,
        random_unit=lambda: 0.0, limits=limits,
    )  # fmt: skip
    yield reg
    await reg.close()


def _key(server: DataServer, path: str) -> SourceKey:
    return SourceKey(SourceKind.HTTP, f"{server.base_url}{path}", max_bytes=64 * MiB)


async def test_a_greedy_namespace_does_not_delay_another(
    registry: SourceRegistry, clock: ManualClock, data_server: DataServer
) -> None:
    for n in range(5):
        data_server.put(f"/greedy-{n}.csv", Served(b"a,b\n1,2\n"))
        registry.follow(
            f"greedy/p{n}", {"dataset": Follow(_key(data_server, f"/greedy-{n}.csv"), 1)}
        )
    data_server.put("/fair.csv", Served(b"a,b\n1,2\n"))
    fair = _key(data_server, "/fair.csv")
    registry.follow("fair/p", {"dataset": Follow(fair, 60)})

    def greedy() -> int:
        return sum(registry.checks[_key(data_server, f"/greedy-{n}.csv")] for n in range(5))

    # One check of "greedy" went at once (it may finish after fair's: both are real HTTP);
    # its other four wait for its own bucket, so fair's first check is not delayed by them.
    await eventually(lambda: registry.checks[fair] == 1 and greedy() >= 1)
    assert greedy() == 1
    await clock.advance_when_asleep(10, sleepers=5)
    await eventually(lambda: greedy() == 2)


async def test_downloads_are_paced_by_the_namespaces_byte_share(
    registry: SourceRegistry, clock: ManualClock, data_server: DataServer
) -> None:
    """No ETag: the body is hashed whole, at the namespace's 1 MiB/s, not at wire speed."""
    data_server.put("/big.csv", Served(b"x,y\n" + b"1,2\n" * (MiB // 4) * 4, validator="none"))
    key = _key(data_server, "/big.csv")
    registry.follow("greedy/p", {"dataset": Follow(key, 1)})
    seconds = 0
    while registry.snapshot("greedy/p")["dataset"].state.value is None:
        await clock.advance_when_asleep(1)
        seconds += 1
        assert seconds < 30, "the download never finished"
    assert seconds >= 3  # 4 MiB at 1 MiB/s with a 1 MiB burst
