"""Shadow on the real cluster (spec.serving.strategy Shadow): a candidate trained on
corrupted labels (setosa and virginica swapped) answers copies of production's requests,
disagrees, and is rejected with production untouched; a good one then agrees and is
promoted. Production's server copies each request to the ``iris-shadow`` Service through
the cluster's DNS and kube-proxy; the load is a bounded loop of requests to production's
pods from inside the node's network (localkube.reach), and every answer is production's."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, example_documents, predict, promoted

from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

TRIAL = {"durationSeconds": 15, "minAgreement": 0.9}
HEALTHY = {"bakeSeconds": 10, "maxErrorRate": 0.5, "maxLatencyP99Ms": 60000, "minRequests": 5}
# A server start costs ~11 s of CPU; on a shared, loaded machine that stretches to minutes.
SLOW = 600


def judged(ns: Namespace, production: str, reason: str) -> Any:
    """The last run once its verdict has ``reason``, after one request to production per
    poll (wait_for bounds the loop); while a shadow runs every answer is production's."""

    def probe() -> dict[str, Any] | None:
        shadow = ns.pipeline()["status"].get("shadow") or {}
        answer = predict(ns)
        if shadow and not shadow.get("passedAt"):
            assert answer is None or answer["model_version"] == production, answer
        run = ns.pipeline()["status"].get("lastRun") or {}
        return run if run.get("reason") == reason else None

    return probe


def test_a_disagreeing_candidate_is_rejected_and_a_good_one_promoted(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    serving = {
        "replicas": 1,
        "strategy": {"type": "Shadow", "shadow": TRIAL},
        "analysis": HEALTHY,
        "progressDeadlineSeconds": SLOW,
    }
    ns.apply(*example_documents(data_url=data_url, serving=serving))
    first = promoted(ns, timeout=SLOW)  # the first model rolls at once
    before = ns.get("deployment", "iris")
    assert before is not None
    env = {
        e["name"]: e.get("value")
        for e in before["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MODELPIPE_SHADOW_TARGET"] == "iris-shadow:8080"

    # Trained on swapped labels: it clears the accuracy gate, and disagrees in shadow.
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/swapped.csv", "version": "s"}}})
    run = wait_for(
        "the corrupted candidate rejected", judged(ns, first, "ShadowRejected"), timeout=SLOW
    )
    assert run["verdict"] == "RolledBack" and run["modelVersion"] != first
    assert "rejected in shadow: agreement 0.0%" in run["message"], run["message"]
    row = run["checks"][-1]
    assert (row["gate"], row["metric"], row["passed"]) == ("analysis", "shadow", False)
    assert any(run["modelVersion"] in m for m in ns.events("ShadowRejected"))
    pipeline = ns.pipeline()
    assert pipeline["status"]["production"]["modelVersion"] == first
    assert pipeline["status"].get("shadow") is None
    ready = next(c for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RolledBack")  # Argo CD: Degraded
    after = ns.get("deployment", "iris")
    assert after is not None  # production untouched: not patched, scaled or rolled
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    wait_for(
        "the shadow scaled to zero",
        lambda: (ns.get("deployment", "iris-shadow") or {}).get("spec", {}).get("replicas") == 0,
        timeout=60,
    )

    # All 150 rows: a model that agrees with production, promoted after its shadow.
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
    run = wait_for("the good candidate passed", judged(ns, first, "Promoted"), timeout=SLOW)
    good = run["modelVersion"]
    assert good != first
    rows = [(c["metric"], c["passed"]) for c in run["checks"] if c["gate"] == "analysis"]
    assert ("shadow", True) in rows, run["checks"]
    assert any(good in m and "passed" in m for m in ns.events("ShadowRunning"))
    assert promoted(ns, besides=first, timeout=SLOW) == good
    wait_for(
        "the shadow retired",
        lambda: (
            (ns.get("deployment", "iris-shadow") or {}).get("spec", {}).get("replicas") == 0
            and ns.pipeline()["status"].get("shadow") is None
        ),
        timeout=120,
    )
