"""plan() with a followed pvc:// dataset: hash Jobs in, the sources seam out — one transition each.

The world is stated by hand (Observed with hash checks); the plan must start one
bounded check per slot, fold its result into status.sources, start one run on a
new hash, none on the same hash, and only a condition on a missing file or claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from tests.operator.builders import NOW, cycle, observe, spec, with_

from modelpipe.api.sources import ErrorReason, Observation
from modelpipe.layout import PIPELINE_LABEL, TRAIN_CONTAINER
from modelpipe.manifests.pvcdata import LABEL_SLOT, job_name
from modelpipe.observed import Observed, SeenCheck
from modelpipe.planning import CreateJob, DeleteJob, Plan, plan
from modelpipe.planning.pvcdata import slot_of

URI = "pvc://iris-data/iris.csv"
INTERVAL = 10.0
FOLLOWING = spec(dataset={"uri": URI, "version": None, "pollInterval": "10s"})
SLOT = slot_of(NOW, INTERVAL)
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def check(slot: int, value: str | None = A, *, error: ErrorReason | None = None) -> SeenCheck:
    """A finished check of ``slot`` (a second into it), with a hash or an error."""
    result = Observation.failed(error, "no such file") if error else Observation(value=value)
    finished = datetime.fromtimestamp(slot * INTERVAL + 1, NOW.tzinfo)
    name = job_name(pipeline="iris", claim="iris-data", path="iris.csv", slot=slot)
    return SeenCheck(name, slot, finished, result)


def running(slot: int) -> SeenCheck:
    return SeenCheck(job_name(pipeline="iris", claim="iris-data", path="iris.csv", slot=slot), slot)


def at(slot: int, observed: Observed, seconds: float = 2) -> Plan:
    return plan(observed, datetime.fromtimestamp(slot * INTERVAL + seconds, NOW.tzinfo))


def hash_jobs(planned: Plan) -> list[dict]:  # type: ignore[type-arg]
    return [
        a.manifest for a in planned.actions if isinstance(a, CreateJob) and LABEL_SLOT in
        a.manifest["metadata"]["labels"]
    ]  # fmt: skip


def training_jobs(planned: Plan) -> list[str]:
    return [
        a.name for a in planned.actions if isinstance(a, CreateJob) and LABEL_SLOT not in
        a.manifest["metadata"]["labels"]
    ]  # fmt: skip


def ready(planned: Plan) -> tuple[str, str]:
    found = next(c for c in planned.status.conditions if c.type == "SourcesReady")
    return found.status, found.reason


@dataclass(frozen=True)
class Case:
    name: str
    checks: tuple[SeenCheck, ...]
    claim_exists: bool = True
    hash_job_slot: int | None = None  # the slot of the check started, if any
    training: int = 0
    sources_ready: tuple[str, str] = ("False", "Resolving")


CASES = [
    Case("first pass starts a check", (), hash_job_slot=SLOT),
    Case("a running check is waited for", (running(SLOT),)),
    Case("a result resolves and trains once", (check(SLOT),), training=1,
         sources_ready=("True", "Resolved")),
    Case("the next slot starts the next check", (check(SLOT - 1),), hash_job_slot=SLOT,
         training=1, sources_ready=("True", "Resolved")),
    Case("a missing file is a condition, no run", (check(SLOT, error=ErrorReason.NOT_FOUND),),
         sources_ready=("False", "NotFound")),
    Case("a missing claim starts no Job", (), claim_exists=False,
         sources_ready=("False", "NotFound")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_pass(case: Case) -> None:
    observed = with_(
        observe(FOLLOWING), dataset_checks=case.checks, dataset_claim_exists=case.claim_exists
    )
    planned = at(SLOT, observed)
    slots = [int(j["metadata"]["labels"][LABEL_SLOT]) for j in hash_jobs(planned)]
    assert slots == ([case.hash_job_slot] if case.hash_job_slot is not None else [])
    assert len(training_jobs(planned)) == case.training
    assert ready(planned) == case.sources_ready


def test_hash_job_is_owned_labelled_bounded_and_restricted() -> None:
    (job,) = hash_jobs(at(SLOT, observe(FOLLOWING)))
    meta, spec_ = job["metadata"], job["spec"]
    assert meta["labels"][PIPELINE_LABEL] == "iris"  # the Job watch reconciles the pipeline
    assert meta["ownerReferences"][0]["uid"] == "uid-1"
    assert spec_["activeDeadlineSeconds"] > 0 and spec_["ttlSecondsAfterFinished"] > 0
    pod = spec_["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["containers"][0]["command"][0] == "sh"
    assert pod["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "iris-data",
        "readOnly": True,
    }


def test_same_hash_runs_nothing_new_hash_runs_once_and_is_announced() -> None:
    first = with_(observe(FOLLOWING), dataset_checks=(check(SLOT),))
    planned = at(SLOT, first)
    (run,) = training_jobs(planned)
    inputs = planned.status.inputs
    assert inputs is not None and (inputs.dataset_version, inputs.dataset_version_from) == (
        A,
        "Followed",
    )
    assert inputs.dataset_resolved_at is not None
    # Next slot, same bytes: a check, no new run. The older check is deleted.
    same = with_(first, status=planned.status, dataset_checks=(check(SLOT), check(SLOT + 1)))
    again = at(SLOT + 1, same)
    # (The hand-stated world never ran the first Job, so the plan asks for that same one.)
    assert set(training_jobs(again)) <= {run} and again.status.inputs == planned.status.inputs
    assert [a.name for a in again.actions if isinstance(a, DeleteJob)] == [check(SLOT).name]
    # New bytes: exactly one new run, and a SourceChanged event from A to B.
    changed = with_(same, status=again.status, dataset_checks=(check(SLOT + 1), check(SLOT + 2, B)))
    new = at(SLOT + 2, changed)
    assert len(training_jobs(new)) == 1 and training_jobs(new) != [run]
    assert new.status.inputs is not None and new.status.inputs.dataset_version == B
    assert [e.message for e in new.events if e.reason == "SourceChanged"] == [
        f"dataset ({URI}): {A} -> {B}"
    ]
    # The same observation once more (a second reconcile): nothing new, nothing told twice.
    repeat = at(SLOT + 2, with_(changed, status=new.status), seconds=3)
    assert not [e for e in repeat.events if e.reason == "SourceChanged"]
    assert repeat.status.sources == new.status.sources


def test_a_missing_file_keeps_the_last_version_and_recovers() -> None:
    resolved = cycle(with_(observe(FOLLOWING), dataset_checks=(check(SLOT),)))
    assert resolved.status.inputs is not None
    version = resolved.status.inputs.dataset_version
    # Only ever the Job of the inputs already decided (the hand-stated world never ran it).
    same_run = {f"iris-{resolved.status.inputs.model_version}"}
    gone = with_(resolved, dataset_checks=(check(SLOT + 1, error=ErrorReason.NOT_FOUND),))
    failed = at(SLOT + 1, gone)
    assert set(training_jobs(failed)) <= same_run and ready(failed) == ("False", "NotFound")
    assert failed.status.inputs.dataset_version == version  # type: ignore[union-attr]
    (row,) = failed.status.sources
    assert (row.resolved, row.reason, row.consecutive_failures) == (A, "NotFound", 1)
    assert [e.reason for e in failed.events if e.reason.startswith("Source")] == ["SourceFailed"]
    back = at(SLOT + 2, with_(gone, status=failed.status, dataset_checks=(check(SLOT + 2),)))
    assert ready(back) == ("True", "Resolved") and set(training_jobs(back)) <= same_run
    assert "SourceRecovered" in [e.reason for e in back.events]


def test_a_check_whose_job_expired_is_not_repeated_in_its_slot() -> None:
    done = cycle(with_(observe(FOLLOWING), dataset_checks=(check(SLOT),)), dataset_checks=())
    assert hash_jobs(at(SLOT, done, seconds=5)) == []
    assert len(hash_jobs(at(SLOT + 1, done))) == 1


def test_wakes_at_the_next_slot_and_pinning_stops_checks() -> None:
    planned = at(SLOT, observe(FOLLOWING), seconds=4)
    assert planned.requeue_after == pytest.approx(INTERVAL - 4)
    pinned = spec(dataset={"uri": URI, "version": "v7"})
    quiet = at(SLOT, observe(pinned))
    assert hash_jobs(quiet) == [] and not quiet.status.sources
    assert quiet.status.inputs is not None and quiet.status.inputs.dataset_version == "v7"


def test_training_pod_reads_the_claim_it_follows() -> None:
    planned = at(SLOT, with_(observe(FOLLOWING), dataset_checks=(check(SLOT),)))
    (create,) = [a for a in planned.actions if isinstance(a, CreateJob)]
    pod = create.manifest["spec"]["template"]["spec"]
    assert {
        "name": "dataset",
        "persistentVolumeClaim": {"claimName": "iris-data", "readOnly": True},
    } in pod["volumes"]
    train = next(c for c in pod["containers"] if c["name"] == TRAIN_CONTAINER)
    assert {"name": "dataset", "mountPath": "/dataset", "readOnly": True} in train["volumeMounts"]
    assert create.config_map is not None
    config = create.config_map["data"]["run-config.json"]
    assert '"uri":"/dataset/iris.csv"' in config and A in config


def test_a_dataset_on_the_artifacts_claim_uses_its_mount() -> None:
    on_models = spec(dataset={"uri": "pvc://models/data/iris.csv", "version": "v1"})
    planned = at(SLOT, observe(on_models))
    (create,) = [a for a in planned.actions if isinstance(a, CreateJob)]
    pod = create.manifest["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["artifacts", "run-config", "tmp"]
    assert create.config_map is not None
    assert '"uri":"/artifacts/data/iris.csv"' in create.config_map["data"]["run-config.json"]


def test_timedelta_slots_are_whole_intervals() -> None:
    assert slot_of(NOW + timedelta(seconds=INTERVAL), INTERVAL) == SLOT + 1
