"""The bake window on the real cluster: a promoted model that breaks its live limits under
load is rolled back to the model it replaced, also when the operator was killed during
the window (it resumes from status). Load is a bounded loop of requests over loopback to
the serving pods, which the operator reads at their pod IPs."""

from __future__ import annotations

import time

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

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]

# No server answers within 10 microseconds at p99: every model breaks this limit, so the
# test shows the mechanism on whichever model is promoted second (the first has nothing to
# roll back to and is not baked).
ANALYSIS = {"bakeSeconds": 600, "maxLatencyP99Ms": 0.01, "minRequests": 20}
REQUESTS = 40
# A server start costs ~11 s of CPU; on a shared, loaded machine that stretches to minutes.
SLOW = 600


def test_a_model_breaking_its_live_limits_after_promotion_is_rolled_back(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    serving = {"analysis": ANALYSIS, "progressDeadlineSeconds": SLOW}
    ns.apply(*example_documents(data_url=data_url, serving=serving))
    first = promoted(ns, timeout=SLOW)
    assert ns.pipeline()["status"]["production"].get("replacedVersion") is None
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
    second = promoted(ns, besides=first, timeout=SLOW)
    production = ns.pipeline()["status"]["production"]
    assert production["replacedVersion"] == first
    ready = ns.pipeline()["status"]["conditions"]
    assert any(c["type"] == "Ready" and c["reason"] in ("Baking", "AnalysisHeld") for c in ready)

    # Killed during the window: the new process resumes it from status.
    operator.kill()
    time.sleep(2)
    operator.start()
    for _ in range(REQUESTS):  # bounded load on the promoted model's pods
        predict(ns)

    def rolled_back() -> dict[str, object] | None:
        pipeline = ns.pipeline()
        run = pipeline["status"].get("lastRun") or {}
        back = serving_version(pipeline) == first
        return run if back and run.get("reason") == "AnalysisFailed" else None

    run = wait_for("the rollback in the bake window", rolled_back, timeout=180)
    assert run["modelVersion"] == second and run["verdict"] == "RolledBack"
    assert "p99 latency" in str(run["message"])
    row = run["checks"][-1]  # type: ignore[index]
    assert row["gate"] == "analysis" and row["passed"] is False
    assert any(second in m for m in ns.events("AnalysisFailed"))
    # The Deployment converges back: the replaced model answers again, and stays.
    wait_for(
        "the first model to answer",
        lambda: (predict(ns) or {}).get("model_version") == first,
        timeout=SLOW,
    )
    assert ns.pipeline()["status"]["production"].get("replacedVersion") is None
    assert sum(first in m for m in ns.events("Promoted")) == 1  # restored, not re-promoted
