"""The reconciler's coalescing of triggers: one waiting pass per pipeline covers a burst."""

from __future__ import annotations

import threading

from modelpipe.k8s.reconciler import WaitingPasses

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
