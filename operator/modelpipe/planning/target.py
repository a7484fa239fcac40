"""Which model should serve: the target the serving checks converge the Deployment to.

In order: ``spec.serving.pinnedVersion`` (automatic promotion paused; candidates that
passed the gate are held); else the newest run that passed the gate or was promoted and
not rolled back (a held one is released); else the current production model.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelpipe.api.v1alpha1 import ConditionType, Reason, RunRecord, Verdict
from modelpipe.planning.draft import NOTHING, Decided, Part, block, condition
from modelpipe.planning.stored import stored_here

_CANDIDATES = (Verdict.PASSED, Verdict.HELD, Verdict.PROMOTED)


@dataclass(frozen=True)
class Target:
    version: str
    record: RunRecord | None
    why: Reason  # PROMOTED (gate passed), PINNED, or ROLLED_BACK (keep / return to production)


def choose_target(d: Decided) -> tuple[Target | None, Part]:
    """What should serve, and what choosing it decides: a held candidate is released when
    nothing is pinned; while pinned, candidates are held and Promoted says why."""
    pinned = d.spec.serving.pinned_version
    if pinned:
        return _pinned_target(d, pinned)
    production = d.status.production
    if not d.spec.suspend:
        for record in d.status.history:
            if record.verdict == Verdict.HELD:
                released = record.model_copy(
                    update={"verdict": Verdict.PASSED, "reason": Reason.GATE_PASSED, "message": ""}
                )
                target = Target(released.model_version, released, Reason.PROMOTED)
                return target, Part(status=d.with_record(released))
            if record.verdict in _CANDIDATES:
                return Target(record.model_version, record, Reason.PROMOTED), NOTHING
    if production is not None:
        kept = d.find(production.model_version)
        return Target(production.model_version, kept, Reason.ROLLED_BACK), NOTHING
    return None, NOTHING


def _pinned_target(d: Decided, pinned: str) -> tuple[Target | None, Part]:
    held = f"passed the gate; held while pinned to {pinned}"
    history = [
        r.model_copy(update={"verdict": Verdict.HELD, "reason": Reason.PINNED, "message": held})
        if r.verdict == Verdict.PASSED
        else r
        for r in d.status.history
    ]
    part = Part(status=d.with_status(history=history))
    d = d.after(part)
    production = d.status.production
    keep = Target(production.model_version, None, Reason.ROLLED_BACK) if production else None
    record = d.find(pinned)
    if record is not None and record.verdict == Verdict.ROLLED_BACK:
        return keep, part + condition(
            ConditionType.PROMOTED,
            "False",
            Reason.PINNED,
            f"pinned model {pinned} was rolled back: {record.message}",
        )
    trained = record is not None and (record.metrics or record.verdict == Verdict.PROMOTED)
    if trained or (production is not None and production.model_version == pinned):
        return Target(pinned, record, Reason.PINNED), part + condition(
            ConditionType.PROMOTED,
            "False",
            Reason.PINNED,
            f"automatic promotion paused: spec.serving.pinnedVersion is {pinned}",
        )
    known = ", ".join(r.model_version for r in d.status.history if r.metrics) or "none"
    return keep, part + block(
        d,
        Reason.PINNED_VERSION_UNKNOWN,
        f"spec.serving.pinnedVersion {pinned} is not a trained version in status.history "
        f"(known: {known})",
        requeue_after=None,
    )


def replaces_production(d: Decided, target: Target) -> bool:
    """A promotion replacing a model that serves, in the store the spec names now: what a
    canary or a shadow tries first. A first model, a pin and a rollback roll at once; a
    retry of a failed rollout rolls again; a model outside the store rolls nowhere
    (``serving._roll``)."""
    production = d.status.production
    return (
        target.why == Reason.PROMOTED
        and target.record is not None
        and production is not None
        and production.model_version != target.version
        and d.retrying != target.version
        and stored_here(d, target.version)
    )
