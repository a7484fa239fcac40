"""Canary steps on the real cluster (spec.serving.strategy Canary): a good candidate is
promoted step by step, across an operator killed mid-step (it resumes that step, nothing
is promoted twice); a slow one is aborted in its first step on its live p99 latency and
production keeps all its pods. Load is a bounded loop of requests to every serving pod
(production's and the canary's) from inside the node's network (localkube.reach)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    example_documents,
    predict,
    promoted,
    serving_version,
)

from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

# Two replicas: step 1 runs one pod of each (50%), step 2 the candidate alone (100%).
STEPS = [{"weight": 50, "pauseSeconds": 20}, {"weight": 100, "pauseSeconds": 20}]
HEALTHY = {"bakeSeconds": 10, "maxErrorRate": 0.5, "maxLatencyP99Ms": 60000, "minRequests": 5}
# No server answers within 10 microseconds at p99: the candidate is "slow" by construction.
SLOW_LIMIT = 0.01
# A server start costs ~11 s of CPU; on a shared, loaded machine that stretches to minutes.
SLOW = 600


def under_load(ns: Namespace, probe: Any) -> Any:
    """``probe`` after one request to every ready serving pod (wait_for bounds the loop)."""

    def loaded() -> Any:
        predict(ns)
        return probe(ns.pipeline())

    return loaded


def canary_step(pipeline: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = pipeline["status"].get("canary")
    return found


def test_a_good_candidate_is_promoted_step_by_step_and_a_slow_one_aborted(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    serving = {
        "replicas": 2,
        "strategy": {"type": "Canary", "steps": STEPS},
        "analysis": HEALTHY,
        "progressDeadlineSeconds": SLOW,
    }
    ns.apply(*example_documents(data_url=data_url, serving=serving))
    first = promoted(ns, timeout=SLOW)
    assert ns.pipeline()["status"].get("canary") is None  # the first model rolls at once

    ns.retrain("1")
    step = wait_for("the candidate's first canary step", under_load(ns, canary_step), timeout=SLOW)
    second = step["modelVersion"]
    assert (step["step"], step["canaryReplicas"], step["stableReplicas"]) == (0, 1, 1)
    assert serving_version(ns.pipeline()) == first

    # Killed during the step: the new process resumes that step from status.
    operator.kill()
    time.sleep(2)
    operator.start()
    seen: set[tuple[int, str]] = set()  # (step, its start) as the pipeline went

    def production_is_second(pipeline: dict[str, Any]) -> bool:
        progress = pipeline["status"].get("canary")
        if progress:
            seen.add((progress["step"], progress["stepStartedAt"]))
        ready = [c for c in pipeline["status"]["conditions"] if c["type"] == "Ready"]
        return serving_version(pipeline) == second and bool(ready[0]["status"] == "True")

    wait_for("the candidate promoted", under_load(ns, production_is_second), timeout=SLOW)
    # The new process resumed step 1 where it stood: entered again, it would have a new start.
    assert {start for number, start in seen if number == 0} <= {step["stepStartedAt"]}
    assert any(number == 1 for number, _ in seen), seen  # and went on, step by step
    pipeline = ns.pipeline()
    run = pipeline["status"]["lastRun"]
    assert run["modelVersion"] == second
    rows = [(c["metric"], c["passed"]) for c in run["checks"] if c["gate"] == "analysis"]
    assert ("canary 50%", True) in rows and ("canary 100%", True) in rows
    told = [m for m in ns.events("CanaryStep") if second in m]
    assert any("passed step 1/2 (50%)" in m for m in told), told
    assert any("passed step 2/2 (100%)" in m for m in told), told
    assert sum(second in m for m in ns.events("Promoted")) == 1
    canary = ns.get("deployment", "iris-canary")
    wait_for(
        "the canary Deployment retired",
        lambda: (ns.get("deployment", "iris-canary") or {}).get("spec", {}).get("replicas") == 0,
        timeout=60,
    )
    assert canary is not None

    # A slow candidate: its first step breaks the p99 limit under load and is aborted.
    slow = {**HEALTHY, "maxLatencyP99Ms": SLOW_LIMIT}
    ns.patch("iris", {"spec": {"serving": {"analysis": slow}}})
    ns.retrain("2")

    def aborted(pipeline: dict[str, Any]) -> dict[str, Any] | None:
        run = pipeline["status"].get("lastRun") or {}
        return run if run.get("reason") == "CanaryAborted" else None

    run = wait_for("the slow candidate aborted", under_load(ns, aborted), timeout=SLOW)
    assert run["modelVersion"] not in (first, second) and run["verdict"] == "RolledBack"
    assert "canary aborted at step 1/2 (50%): p99 latency" in run["message"]
    assert run["checks"][-1]["metric"] == "canary 50%" and not run["checks"][-1]["passed"]
    assert any(run["modelVersion"] in m for m in ns.events("CanaryAborted"))
    pipeline = ns.pipeline()
    assert serving_version(pipeline) == second and pipeline["status"].get("canary") is None
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RolledBack")  # Argo CD: Degraded
    main = ns.get("deployment", "iris")
    assert main is not None and main["spec"]["replicas"] == 2
    wait_for(
        "only production answering",
        lambda: (predict(ns) or {}).get("model_version") == second,
        timeout=SLOW,
    )
