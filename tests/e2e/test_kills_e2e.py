"""Kills of the active replica, with a standby, during training, promotion and rollout.

Two operators hold or wait for one Lease. Each cycle asks for a retrain (a new
``modelpipe.io/retrain`` token: a new model version) and SIGKILLs the replica holding the
Lease at one of three points, in turn: once its Job exists (training), once the Job has
completed (between training and promotion), once the Deployment is rolling out to it
(rollout). The other replica takes over; the killed one comes back as the standby. Every
version must then serve, and over all cycles: one Job per version (none doubled), one
Promoted event per version (none doubled), none lost.

``make test`` runs 3 cycles (each point once); ``MODELPIPE_E2E_KILLS=20`` the long version.
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, example_documents, promoted

from localkube.cluster import Cluster
from localkube.waiting import wait_for

KILLS = int(os.environ.get("MODELPIPE_E2E_KILLS", "3"))
LEASE = "modelpipe-operator"

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(420 + 150 * KILLS),
]


def holder(ns: Namespace) -> str:
    lease = ns.get("lease", LEASE) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def _job_created(ns: Namespace, count: int) -> bool:
    return len(ns.events("JobCreated")) >= count


def _newest_job_complete(ns: Namespace, known: set[str]) -> bool:
    return any(
        c["type"] == "Complete" and c["status"] == "True"
        for j in ns.items("jobs", "modelpipe.io/pipeline=iris")
        if j["metadata"]["name"] not in known
        for c in j.get("status", {}).get("conditions", [])
    )


def _rolling_out(ns: Namespace, served: tuple[str, ...]) -> bool:
    """The Deployment is being rolled out to a model that has not served yet."""
    return any(all(v not in m for v in served) for m in ns.events("RollingOut"))


def _held_by_other(ns: Namespace, leader: str) -> bool:
    return holder(ns) not in ("", leader)


def _standing_by(replica: Operator) -> bool:
    return replica.logs().count("Waiting to hold Lease") == replica.starts


def kill_leader(ns: Namespace, replicas: list[Operator]) -> None:
    """SIGKILL the replica holding the Lease; wait for the other to hold it and the killed
    one to stand by again."""
    leader = holder(ns)
    active = next(r for r in replicas if r.process and leader.endswith(f"-{r.process.pid}"))
    active.kill()
    wait_for("the standby to lead", partial(_held_by_other, ns, leader), timeout=60, every=0.2)
    active.start()
    wait_for("the killed replica to stand by", partial(_standing_by, active), timeout=120)


def test_kills_during_training_promotion_and_rollout_double_nothing_and_lose_nothing(
    cluster: Cluster, ns: Namespace, data_url: str, tmp_path: Path
) -> None:
    args = ("--leader-election", LEASE, "--leader-election-namespace", ns.name)
    replicas = [Operator(cluster, ns.name, tmp_path / n, extra_args=args) for n in ("a", "b")]
    for replica in replicas:
        replica.log_dir.mkdir()
        replica.start()
    served: list[str] = []
    try:
        ns.apply(*example_documents(data_url=data_url))
        served.append(promoted(ns, timeout=240))
        for cycle in range(KILLS):
            jobs_before = {j["metadata"]["name"] for j in ns.items("jobs")}
            ns.retrain(f"k{cycle}")
            point = cycle % 3
            if point == 0:  # training: the Job exists and its JobCreated was posted
                wait_for("the Job", partial(_job_created, ns, cycle + 2), timeout=120, every=0.2)
            elif point == 1:  # between training and promotion
                wait_for("the Job to complete", partial(_newest_job_complete, ns, jobs_before),
                         timeout=180, every=0.2)  # fmt: skip
            else:  # the Deployment rolls out to the new model
                wait_for("the rollout", partial(_rolling_out, ns, tuple(served)), timeout=240,
                         every=0.2)  # fmt: skip
            kill_leader(ns, replicas)
            served.append(promoted(ns, besides=served[-1], timeout=300))
        time.sleep(5)  # a doubled Job or promotion would show up now
        _assert_once_each(ns, served)
    finally:
        for replica in replicas:
            replica.stop()
        print(ns.kubectl("get", "mp,jobs,deploy,lease", "-o", "wide", check=False).stdout)
        for replica in replicas:
            print(replica.logs()[-3000:])


def _assert_once_each(ns: Namespace, served: list[str]) -> None:
    assert len(set(served)) == KILLS + 1, f"a version served twice or not at all: {served}"
    # "Created Job iris-<version> for code ..." / "Adopted Job iris-<version> for model ...":
    # a run whose creator was killed before its event is adopted, still one Job.
    told: list[Any] = ns.events("JobCreated") + ns.events("AdoptedJob")
    jobs = [m.split()[2] for m in told]
    assert sorted(set(jobs)) == sorted(f"iris-{v}" for v in served), told
    assert len(ns.events("JobCreated")) == len(served), "a Job was created twice"
    promotions = ns.events("Promoted")
    for version in served:
        assert sum(version in m for m in promotions) == 1, (version, promotions)
