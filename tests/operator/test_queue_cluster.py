"""The training queue on the real cluster: the limit holds, and a quiet namespace is not starved.

Two namespaces, one operator serving both with ``--max-training-jobs 2``. Every run is
one pod whose code test sleeps a few seconds and exits 1 (CodeValidationFailed), so a
slot frees by itself. Namespace ``busy`` applies four pipelines first and takes both
slots; ``quiet`` applies one afterwards: fair order starts quiet's Job with the next
round, not after busy's backlog, and never are more than two training Jobs active.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents

from localkube.cluster import Cluster
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.timeout(600)]

LIMIT = 2
BUSY = ("b1", "b2", "b3", "b4")


def sleepy(name: str) -> dict[str, Any]:
    """A pipeline whose run is a code test that sleeps, then fails: one pod, no trainer."""
    document: dict[str, Any] = example_documents(data_url="http://127.0.0.1:9", name=name)[1]
    document["spec"]["code"] = {
        "revision": "r1",
        "test": {"command": ["sh", "-c", "sleep 6; exit 1"]},
    }
    document["spec"]["dataset"]["version"] = "v1"
    return document


def pvc() -> dict[str, Any]:
    return dict(example_documents(data_url="http://127.0.0.1:9")[0])


@pytest.fixture
def quiet(cluster: Cluster, ns: Namespace) -> Iterator[Namespace]:
    name = f"quiet-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", name)
    wait_for(
        "the default ServiceAccount",
        lambda: cluster.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
        timeout=30,
        every=0.2,
    )
    yield Namespace(cluster, name)
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def active_jobs(ns: Namespace) -> list[dict[str, Any]]:
    return [
        job
        for job in ns.items("jobs", "modelpipe.io/pipeline")
        if not any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        )
    ]


def test_the_limit_holds_and_a_quiet_namespace_goes_before_a_busy_ones_backlog(
    cluster: Cluster, ns: Namespace, quiet: Namespace, tmp_path: Path
) -> None:
    operator = Operator(
        cluster,
        ns.name,
        tmp_path,
        extra_args=("--standalone", "--namespace", quiet.name, "--max-training-jobs", str(LIMIT)),
    )
    operator.start()
    try:
        ns.apply(pvc(), *(sleepy(name) for name in BUSY))
        wait_for("busy's two Jobs", lambda: len(ns.items("jobs")) >= LIMIT, timeout=120)
        quiet.apply(pvc(), sleepy("q1"))
        queued = wait_for(
            "q1 queued at position 1",
            lambda: (quiet.pipeline("q1").get("status") or {}).get("currentRun"),
            timeout=60,
            every=0.5,
        )
        assert queued["phase"] == "Queued" and queued["queuePosition"] == 1
        assert condition(quiet.pipeline("q1"), "Ready") == ("False", "Queued")
        header, row = quiet.kubectl("get", "mp", "q1").stdout.splitlines()[:2]
        at = header.index("QUEUE")  # kubectl aligns each cell under its header
        assert row[at:].split()[0] == "1", f"{header}\n{row}"

        started: dict[str, float] = {}
        most = 0
        deadline = time.monotonic() + 420
        while len(started) < len(BUSY) + 1 and time.monotonic() < deadline:
            active = active_jobs(ns) + active_jobs(quiet)
            most = max(most, len(active))
            for job in ns.items("jobs") + quiet.items("jobs"):
                pipeline = job["metadata"]["labels"]["modelpipe.io/pipeline"]
                started.setdefault(pipeline, time.monotonic())
            time.sleep(0.5)
        assert len(started) == len(BUSY) + 1, f"not every pipeline ran: {sorted(started)}"
        assert most <= LIMIT, f"{most} training Jobs were active at once (limit {LIMIT})"
        order = sorted(started, key=started.__getitem__)
        # Without fairness q1, the newest request, would start last. busy's first two
        # Jobs end together, so q1 and one of busy's backlog start in the same round.
        assert order.index("q1") in (LIMIT, LIMIT + 1), f"start order {order}"
        for name in BUSY:
            assert condition(ns.pipeline(name), "Ready") != ("False", "Queued")
    finally:
        operator.stop()
        print(ns.kubectl("get", "mp,jobs", "-o", "wide", check=False).stdout)
        print(operator.logs()[-6000:])
