"""Followed sources in the plan: last known inputs, where each input came from, SourcesReady.

The pollers live outside the plan (``modelpipe.sources``); the gatherer passes their
latest answers in as ``Observed.resolved`` (values) and ``Observed.sources`` (status
rows). Two rules from docs/triggers.md are decided here:

- a followed value, once seen, is never "unknown" again: right after an operator
  restart the pollers have not answered yet, and the inputs in status stand, so a
  running Job is not superseded by an empty input;
- a failing source keeps the last resolved value and shows on ``SourcesReady``;
  it never starts a run and never touches production.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from modelpipe.api.durations import parse_duration
from modelpipe.api.schedule import check_schedule, latest_fire, next_fire
from modelpipe.api.v1alpha1 import Condition, Reason
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.inputs import Resolved
from modelpipe.layout import job_name
from modelpipe.planning.clock import parse, rfc3339
from modelpipe.planning.debounce import DebouncePolicy, debounce
from modelpipe.planning.draft import NOTHING, Decided, Part, emit, wake_after
from modelpipe.planning.outcome import EventType
from modelpipe.planning.sourcestatus import CONDITION_TYPE, sources_ready

Origin = Literal["Pinned", "Followed"]


def keep_last_known(d: Decided) -> Part:
    """Fill inputs the pollers have not answered yet with the ones status already holds."""
    previous = d.previous.inputs
    if previous is None:
        return NOTHING
    seen = d.obs.resolved or Resolved()
    code, version = seen.code_revision, seen.dataset_version
    if code is None and d.spec.code.revision is None and previous.code_revision_from == "Followed":
        code = previous.code_revision
    if (
        version is None
        and d.spec.dataset.version is None
        and previous.dataset_version_from == "Followed"
    ):
        version = previous.dataset_version
    return Part(
        obs=replace(d.obs, resolved=replace(seen, code_revision=code, dataset_version=version))
    )


def report_sources(d: Decided) -> Part:
    """``status.sources`` and, on the inputs, where each value came from and when."""
    inputs = d.status.inputs
    if inputs is None:
        return Part(status=d.with_status(sources=list(d.obs.sources)))
    rows = {row.name: row for row in d.obs.sources}
    code_from = _origin(d.spec.code.revision, inputs.code_revision)
    dataset_from = _origin(d.spec.dataset.version, inputs.dataset_version)
    inputs = inputs.model_copy(
        update={
            "code_revision_from": code_from,
            "dataset_version_from": dataset_from,
            "code_resolved_at": _resolved_at(rows.get("code"), code_from),
            "dataset_resolved_at": _resolved_at(rows.get("dataset"), dataset_from),
        }
    )
    return Part(status=d.with_status(sources=list(d.obs.sources), inputs=inputs))


def announce_source_changes(d: Decided) -> Part:
    """An Event when a followed source resolves to a new value, starts failing, or recovers.

    Compared with the rows status held before this pass, so each change is told once.
    Right after a restart the pollers have not answered yet; the input kept from
    status then stands in for the old value, so the first answer is not news.
    """
    before = {row.name: row for row in d.previous.sources}
    part = NOTHING
    for row in d.obs.sources:
        old = before.get(row.name)
        where = row.where()
        known = (old.resolved if old else None) or _last_input(d, row.name)
        if row.resolved and row.resolved != known:
            change = f"{known} -> {row.resolved}" if known else f"resolved to {row.resolved}"
            part += emit(EventType.NORMAL, Reason.SOURCE_CHANGED, f"{where}: {change}")
        if row.reason and (old is None or old.reason != row.reason):
            kept = f"; keeping {known}, nothing runs" if known else "; nothing runs"
            message = f"{where}: {row.reason}: {row.error}{kept}"
            part += emit(EventType.WARNING, Reason.SOURCE_FAILED, message)
        elif not row.reason and old is not None and old.reason and row.last_check_time:
            message = f"{where}: checks succeed again after {old.consecutive_failures} failures"
            part += emit(EventType.NORMAL, Reason.SOURCE_RECOVERED, message)
    return part


def _last_input(d: Decided, role: str) -> str | None:
    """The followed value status recorded for ``role`` (code or dataset), if followed."""
    inputs = d.previous.inputs
    if inputs is None:
        return None
    if role == "code" and inputs.code_revision_from == "Followed":
        return inputs.code_revision or None
    if role == "dataset" and inputs.dataset_version_from == "Followed":
        return inputs.dataset_version or None
    return None


def _origin(pinned: str | None, value: str) -> Origin | None:
    if pinned:
        return "Pinned"
    return "Followed" if value else None


def _resolved_at(row: SourceStatus | None, origin: Origin | None) -> str | None:
    return row.resolved_time if row is not None and origin == "Followed" else None


def debounce_automatic_runs(d: Decided) -> Part:
    """Hold a run that a followed source triggered until spec.triggers allows it.

    Only runs caused by a source change seen after the last run started are held;
    a spec edit (nothing changed at the sources since then) runs at once.
    """
    policy = _policy(d)
    inputs = d.status.inputs
    if policy is None or inputs is None:
        return NOTHING
    version = inputs.model_version
    if d.obs.job(job_name(pipeline=d.obs.metadata.name, version=version)) or d.find(version):
        return NOTHING  # already running or decided: nothing to start
    starts = [t for t in (parse(r.start_time) for r in d.status.history) if t is not None]
    last_start = max(starts, default=None)
    changes = [c for c in d.obs.source_changes if last_start is None or c > last_start]
    now = parse(d.now)
    if not changes or now is None:
        return NOTHING
    decision = debounce(changes=changes, last_run_start=last_start, now=now, policy=policy)
    if decision.start or decision.not_before is None:
        return NOTHING
    wait = max(1.0, (decision.not_before - now).total_seconds())
    return Part(hold=decision.message) + wake_after(wait)


def _policy(d: Decided) -> DebouncePolicy | None:
    triggers = d.spec.triggers
    if triggers is None or not (triggers.min_interval or triggers.quiet_period):
        return None
    return DebouncePolicy(
        min_interval=parse_duration(triggers.min_interval or "0s"),
        quiet_period=parse_duration(triggers.quiet_period or "0s"),
    )


def schedule_slot(d: Decided) -> str | None:
    """The cron slot the desired inputs belong to, part of their hash: one run per slot.

    Slots from before the pipeline existed do not count, so creating a pipeline
    does not run the slot it never saw; after downtime only the latest slot runs.
    """
    schedule, created, now = d.spec.schedule, parse(d.obs.metadata.creation_timestamp), parse(d.now)
    if not schedule or created is None or now is None or check_schedule(schedule):
        return None
    slot = latest_fire(schedule, at_or_before=now)
    return rfc3339(slot) if slot > created else None


def wake_for_schedule(d: Decided) -> Part:
    """Reconcile again at the next fire time (the reconciler keeps one timer per pipeline)."""
    schedule, now = d.spec.schedule, parse(d.now)
    if not schedule or now is None or check_schedule(schedule):
        return NOTHING
    return wake_after((next_fire(schedule, after=now) - now).total_seconds())


def with_sources_ready(d: Decided, conditions: list[Condition], *, stamp: str) -> list[Condition]:
    """Replace SourcesReady in ``conditions``; present only when something is followed or
    scheduled."""
    others = [c for c in conditions if c.type != CONDITION_TYPE]
    if not d.obs.sources and not d.spec.schedule:
        return others
    problem = check_schedule(d.spec.schedule) if d.spec.schedule else None
    verdict = sources_ready(list(d.obs.sources), schedule_problem=problem)
    status: Literal["True", "False"] = "True" if verdict.status else "False"
    before = next((c for c in conditions if c.type == CONDITION_TYPE), None)
    moved = before is None or before.status != status
    condition = Condition(
        type=CONDITION_TYPE,
        status=status,
        reason=verdict.reason.value,
        message=verdict.message[:2048],
        last_transition_time=stamp if moved or before is None else before.last_transition_time,
        observed_generation=d.obs.metadata.generation,
    )
    return [*others, condition]


def failing_source(d: Decided) -> str | None:
    """``Reason: message`` of SourcesReady when a followed source or the schedule fails.

    None while everything resolves, or is still resolving for the first time: a source
    that fails means the spec cannot take effect, so Ready says so (planning.summary).
    """
    if not d.obs.sources and not d.spec.schedule:
        return None
    problem = check_schedule(d.spec.schedule) if d.spec.schedule else None
    verdict = sources_ready(list(d.obs.sources), schedule_problem=problem)
    if verdict.status or verdict.reason.value in _NOT_FAILING:
        return None
    return f"{verdict.reason.value}: {verdict.message}"


_NOT_FAILING = frozenset({"Resolving", "Resolved", "NothingFollowed"})
