"""The reconciler: one waiting pass per pipeline covers a burst; the earliest wake-up wins."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.operator.fake_api import T0, FakeClock, FakeTimer

from modelpipe.k8s.reconciler import Reconciler, WaitingPasses

A, B = ("ml", "a"), ("ml", "b")


def test_one_waiting_pass_per_pipeline() -> None:
    waiting = WaitingPasses()
    assert waiting.join(A) and waiting.join(B)  # each pipeline gets its pass
    assert not waiting.join(A)  # the waiting pass for A will read after this trigger
    waiting.started(A)
    assert waiting.join(A)  # A's pass is already reading: a new trigger needs a new pass


def test_a_burst_of_triggers_during_a_pass_costs_one_more_pass() -> None:
    waiting, lock = WaitingPasses(), threading.Lock()
    passes: list[int] = []
    release = threading.Event()

    def trigger(n: int, hold: bool = False) -> None:
        if not waiting.join(A):
            return
        with lock:
            waiting.started(A)
            passes.append(n)
            if hold:
                release.wait(timeout=10)

    first = threading.Thread(target=trigger, args=(0, True))
    first.start()
    while not passes:  # the first pass is reading (bounded by the test timeout)
        release.wait(timeout=0.01)
    burst = [threading.Thread(target=trigger, args=(n,)) for n in range(1, 6)]
    for thread in burst:
        thread.start()
    for thread in burst:  # all but one return at once; that one waits for the lock
        thread.join(timeout=0.2)
    assert sum(thread.is_alive() for thread in burst) == 1
    release.set()
    for thread in [first, *burst]:
        thread.join(timeout=10)
    assert passes[0] == 0 and len(passes) == 2  # the first pass and one for the whole burst


# Requeue timers (client-go's delaying queue: a pending wake-up is replaced only by an earlier one)


def reconciler(clock: FakeClock) -> tuple[Reconciler, list[tuple[str, str]]]:
    FakeTimer.made = []
    passes: list[tuple[str, str]] = []
    rec = Reconciler(api=None, clock=clock, timer=FakeTimer)  # type: ignore[arg-type]
    rec.reconcile = lambda namespace, name: passes.append((namespace, name))  # type: ignore[method-assign]
    return rec, passes


def pending(rec: Reconciler) -> list[FakeTimer]:
    return [t for t in FakeTimer.made if t.started and not (t.cancelled or t.fired)]


def test_a_shorter_wake_up_replaces_a_longer_pending_one() -> None:
    clock = FakeClock()
    rec, passes = reconciler(clock)
    rec.requeue("ml", "iris", 3600)
    rec.requeue("ml", "iris", 0.2)
    (timer,) = pending(rec)
    assert timer.delay == 0.2
    timer.fire()
    assert passes == [("ml", "iris")]
    assert pending(rec) == []


def test_a_later_wake_up_keeps_the_earlier_pending_one() -> None:
    clock = FakeClock()
    rec, _ = reconciler(clock)
    rec.requeue("ml", "iris", 60)
    clock.time = T0 + timedelta(seconds=30)
    rec.requeue("ml", "iris", 45)  # due at +75 s, after the pending +60 s
    (timer,) = pending(rec)
    assert timer.delay == 60
    rec.requeue("ml", "iris", 10)  # due at +40 s: earlier, replaces it
    (timer,) = pending(rec)
    assert timer.delay == 10


def test_a_fired_timer_leaves_no_stale_entry_and_never_drops_a_newer_one() -> None:
    clock = FakeClock()
    rec, passes = reconciler(clock)
    rec.requeue("ml", "iris", 60)
    first = pending(rec)[0]
    rec.requeue("ml", "iris", 5)  # replaces the first: it is cancelled
    assert first.cancelled
    first.function(*first.args)  # a cancelled timer that raced and fired anyway
    assert passes == [] and len(pending(rec)) == 1  # the newer timer is still there
    pending(rec)[0].fire()
    assert passes == [("ml", "iris")]
    rec.requeue("ml", "iris", 3600)  # after firing, a new requeue schedules again
    assert [t.delay for t in pending(rec)] == [3600]


def test_pipelines_have_their_own_timers_and_forget_cancels() -> None:
    clock = FakeClock()
    rec, _ = reconciler(clock)
    rec.requeue("ml", "a", 60)
    rec.requeue("ml", "b", 600)
    assert sorted(t.delay for t in pending(rec)) == [60, 600]
    rec.forget("ml", "a")
    assert [t.delay for t in pending(rec)] == [600]
