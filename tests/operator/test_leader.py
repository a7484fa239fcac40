"""Leader election: the pure next step, and the elector against a fake API and clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.operator.fake_api import FakeClock, FakeRest

from modelpipe.k8s.leader import LeaderElector
from modelpipe.planning.lease import LeaseRecord, Step, next_step

T0 = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
LEASE = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/modelpipe"


def record(holder: str, renewed: str = "r1") -> LeaseRecord:
    return LeaseRecord(
        holder=holder, duration_seconds=10, renew_time=renewed, transitions=0, resource_version="1"
    )


def test_no_lease_is_created_and_ours_is_renewed() -> None:
    assert next_step(None, None, me="a", now=T0)[0] == Step.CREATE
    assert next_step(record("a"), None, me="a", now=T0)[0] == Step.RENEW


def test_a_standby_takes_over_only_after_the_record_went_unrenewed_for_its_duration() -> None:
    step, seen = next_step(record("a"), None, me="b", now=T0)
    assert step == Step.WAIT
    step, seen = next_step(record("a"), seen, me="b", now=T0 + timedelta(seconds=9))
    assert step == Step.WAIT
    step, _ = next_step(record("a"), seen, me="b", now=T0 + timedelta(seconds=10))
    assert step == Step.TAKE


def test_a_renewal_restarts_the_standbys_count_whatever_the_timestamps_say() -> None:
    _, seen = next_step(record("a", "r1"), None, me="b", now=T0)
    step, seen = next_step(record("a", "r2"), seen, me="b", now=T0 + timedelta(seconds=9))
    assert step == Step.WAIT
    step, _ = next_step(record("a", "r2"), seen, me="b", now=T0 + timedelta(seconds=18))
    assert step == Step.WAIT  # only 9 s since it saw r2
    assert next_step(record(""), None, me="b", now=T0)[0] == Step.TAKE  # released


def elector(rest: FakeRest, me: str, clock: FakeClock) -> LeaderElector:
    return LeaderElector(
        rest,  # type: ignore[arg-type]
        namespace="ops",
        name="modelpipe",
        identity=me,
        clock=clock,
        sleep=lambda s: None,
    )


def test_two_replicas_one_leads_and_the_standby_takes_over_when_renewals_stop() -> None:
    rest, clock = FakeRest(), FakeClock(T0)
    a, b = elector(rest, "a", clock), elector(rest, "b", clock)
    assert a.try_once()
    assert not b.try_once()
    clock.time += timedelta(seconds=5)
    assert a.try_once()  # renewed
    clock.time += timedelta(seconds=9)
    assert not b.try_once()  # b saw the renewal 0 s ago (its first look at the new record)
    clock.time += timedelta(seconds=10)  # a was SIGKILLed: no renewal for 10 s
    assert b.try_once()
    assert rest.objects[LEASE]["spec"]["holderIdentity"] == "b"
    assert rest.objects[LEASE]["spec"]["leaseTransitions"] == 1
    assert not a.try_once()  # a, had it survived, sees b and does not act
