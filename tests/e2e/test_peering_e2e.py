"""Two operator replicas with kopf peering on the real cluster: they never both act.

This is the chart's ``leader.strategy: peering`` during a rolling upgrade: the old
replica runs, a new one with the same priority joins, kopf pauses both while they
overlap, and once the old one has left the new one carries on — one Job per input,
one promotion.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.e2e.harness import REPO, Namespace, Operator, example_documents, promoted

from localkube.cluster import Cluster
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
PEERING_CRDS = REPO / "charts" / "modelpipe" / "crds" / "kopf.dev_peerings.yaml"
PEERING = "modelpipe"


def peers(ns: Namespace) -> dict[str, object]:
    found = ns.get("kopfpeering", PEERING) or {}
    return dict(found.get("status") or {})


def test_two_replicas_with_peering_never_both_act(
    cluster: Cluster, ns: Namespace, data_url: str, tmp_path: Path
) -> None:
    cluster.kubectl("apply", "-f", str(PEERING_CRDS))
    cluster.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev")
    ns.apply({"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}})
    for directory in ("old", "new"):
        (tmp_path / directory).mkdir()
    args = ("--peering", PEERING)
    old = Operator(cluster, ns.name, tmp_path / "old", extra_args=args)
    new = Operator(cluster, ns.name, tmp_path / "new", extra_args=args)
    old.start()
    try:
        ns.apply(*example_documents(data_url=data_url))
        first = promoted(ns)

        # A second replica joins: kopf pauses both while they overlap, so a change waits.
        new.start()
        wait_for("both replicas in the peering object", lambda: len(peers(ns)) == 2, timeout=60)
        wait_for("the old replica to pause", lambda: "Pausing" in old.logs(), timeout=60)
        ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
        time.sleep(10)
        assert ns.jobs() == [f"iris-{first}"], "a paused replica acted"

        # The old replica leaves (SIGTERM, as in a rolling upgrade); the new one takes over.
        old.stop()
        second = promoted(ns, besides=first, timeout=180)
    finally:
        old.stop()
        new.stop()
        print(f"--- old replica\n{old.logs()[-4000:]}\n--- new replica\n{new.logs()[-4000:]}")
    assert ns.jobs() == sorted([f"iris-{first}", f"iris-{second}"])
    assert sum("Created Job" in m for m in ns.events("JobCreated")) == 2
    assert sum(second in m for m in ns.events("Promoted")) == 1
    assert (
        f"iris-{second}" not in old.logs() and f"Created Job {ns.name}/iris-{second}" in new.logs()
    )
