"""A standby replica (--leader-election): SIGKILL the active one, the standby leads within 15 s.

Two operators for one namespace hold or wait for one Lease. Each round kills the
replica holding it while a run is under way, measures how long until the other holds
the Lease, changes the pipeline's inputs, and restarts the killed one as the new
standby. Every run ends in its code test (a short sleep, then exit 1), so each round
starts exactly one Job: no duplicate Job and no lost run across the kills.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, example_documents

from localkube.cluster import Cluster
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.timeout(900)]

LEASE = "modelpipe-operator"
ROUNDS = 3
TAKEOVER_SECONDS = 15


def sleepy(revision: str) -> list[dict[str, Any]]:
    pvc, pipeline = example_documents(data_url="http://127.0.0.1:9", name="p")
    pipeline["spec"]["code"] = {
        "revision": revision,
        "test": {"command": ["sh", "-c", "sleep 5; exit 1"]},
    }
    pipeline["spec"]["dataset"]["version"] = "v1"
    return [pvc, pipeline]


def holder(ns: Namespace) -> str:
    lease = ns.get("lease", LEASE) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def _logged(replica: Operator, text: str) -> bool:
    return text in replica.logs()


def _runs_started(ns: Namespace, count: int) -> bool:
    """The operator's own ledger: one JobCreated event per Job it created. A Job count would
    not do: a run still under way when the next revision lands is superseded (deleted)."""
    return len(ns.events("JobCreated")) == count


def _held_by_other_than(ns: Namespace, leader: str) -> bool:
    return holder(ns) not in ("", leader)


def _standing_by(replica: Operator) -> bool:
    return replica.logs().count("Waiting to hold Lease") == replica.starts


def test_the_standby_takes_over_within_15_s_and_no_run_is_doubled_or_lost(
    cluster: Cluster, ns: Namespace, tmp_path: Path
) -> None:
    args = ("--leader-election", LEASE, "--leader-election-namespace", ns.name)
    replicas = [Operator(cluster, ns.name, tmp_path / n, extra_args=args) for n in ("a", "b")]
    for replica in replicas:
        replica.log_dir.mkdir()
        replica.start()
    for replica in replicas:
        wait_for("both replicas up", partial(_logged, replica, "Lease"), timeout=120)
    takeovers: list[float] = []
    try:
        ns.apply(*sleepy("r0"))
        for round_ in range(ROUNDS):
            revision = f"r{round_}"
            count = round_ + 1
            wait_for(f"the Job of {revision}", partial(_runs_started, ns, count))
            leader = holder(ns)
            active = next(r for r in replicas if r.process and leader.endswith(f"-{r.process.pid}"))
            standby = next(r for r in replicas if r is not active)
            active.kill()
            killed = time.monotonic()
            wait_for(
                "the standby to hold the Lease",
                partial(_held_by_other_than, ns, leader),
                timeout=60,
                every=0.2,
            )
            takeovers.append(time.monotonic() - killed)
            assert standby.process is not None and holder(ns).endswith(f"-{standby.process.pid}")
            ns.apply(*sleepy(f"r{round_ + 1}"))
            active.start()  # back as the standby: up before the next kill
            wait_for(
                "the restarted replica to stand by",
                partial(_standing_by, active),
                timeout=120,
            )
        wait_for(f"the Job of r{ROUNDS}", partial(_runs_started, ns, ROUNDS + 1))
        time.sleep(5)  # a doubled Job would show up now
        created = ns.events("JobCreated")  # "Created Job NAME for code REVISION, dataset ..."
        revisions = sorted(m.split(" for code ")[1].split(",")[0] for m in created)
        assert revisions == [f"r{i}" for i in range(ROUNDS + 1)], created  # one run each
        names = {m.split()[2] for m in created}
        assert len(names) == ROUNDS + 1, created
        live = {j["metadata"]["name"] for j in ns.items("jobs")}
        assert live <= names, f"Jobs the operator did not record creating: {live - names}"
        assert max(takeovers) <= TAKEOVER_SECONDS, f"takeovers took {takeovers}"
        print(f"takeover seconds: {[round(t, 1) for t in takeovers]}")
    finally:
        for replica in replicas:
            replica.stop()
        print(ns.kubectl("get", "mp,jobs,lease", "-o", "wide", check=False).stdout)
        for replica in replicas:
            print(replica.logs()[-3000:])
