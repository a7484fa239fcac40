"""A followed dataset on a PVC in the plan: fold its hash Jobs into the sources seam, start checks.

The git and HTTP pollers hand the plan their answers through ``Observed.followed``,
``Observed.sources`` and ``Observed.source_changes``; a ``pvc://`` dataset fills the
same three from its hash Jobs (:mod:`modelpipe.sources.pvcstate`), first thing in
the pass. Everything after that — last known inputs, ``SourcesReady``, the
``SourceChanged`` events, debouncing, the run — is the same code for every source.
"""

from __future__ import annotations

from dataclasses import replace

from modelpipe.inputs import Followed
from modelpipe.manifests.common import owner_reference
from modelpipe.planning.clock import parse
from modelpipe.planning.draft import Draft
from modelpipe.planning.outcome import CreateJob, DeleteJob
from modelpipe.sources.pvc import HashCheck, build_job
from modelpipe.sources.pvcstate import ROLE, due_slot, fold, follows_pvc, stale, wait_seconds
from modelpipe.sources.status import SourceStatus


def follow_pvc_dataset(d: Draft) -> None:
    """Put the PVC dataset's row and version where the other sources put theirs."""
    follow, now = follows_pvc(d.spec), parse(d.now)
    if follow is None or now is None:
        return
    obs = d.obs
    before = next((r for r in d.previous.sources if r.name == ROLE), None)
    row = fold(
        before, follow=follow, checks=obs.dataset_checks,
        claim_exists=obs.dataset_claim_exists, now=now,
    )  # fmt: skip
    changed = parse(row.resolved_time)
    d.obs = replace(
        obs,
        followed=replace(obs.followed or Followed(), dataset_version=row.resolved),
        sources=tuple(sorted([*(r for r in obs.sources if r.name != ROLE), row], key=_name)),
        source_changes=tuple(sorted([*obs.source_changes, *([changed] if changed else [])])),
    )
    slot = due_slot(
        row, follow=follow, checks=obs.dataset_checks,
        claim_exists=obs.dataset_claim_exists, now=now,
    )  # fmt: skip
    if slot is not None:
        check = HashCheck(
            namespace=obs.metadata.namespace, pipeline=obs.metadata.name, claim=follow.claim,
            path=follow.path, image=d.spec.code.image, slot=slot,
            owner=owner_reference(obs.metadata),
        )  # fmt: skip
        d.actions.append(CreateJob(build_job(check)))
    for old in stale(obs.dataset_checks):
        d.actions.append(DeleteJob(old.name, "an older dataset hash check"))


def wake_for_dataset_check(d: Draft) -> None:
    """Reconcile again when the next check's slot begins (the Job watch covers its end)."""
    now = parse(d.now)
    row = next((r for r in d.obs.sources if r.name == ROLE and r.kind == "pvc"), None)
    if row is None or now is None or follows_pvc(d.spec) is None:
        return
    wait = wait_seconds(row, now=now)
    if wait is not None:
        d.wake_after(wait)


def _name(row: SourceStatus) -> str:
    return row.name
