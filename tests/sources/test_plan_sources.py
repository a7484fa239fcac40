"""plan() with followed sources: a resolved change runs like a pinned one; outages do nothing."""

from __future__ import annotations

from datetime import timedelta

from tests.operator.builders import NOW, cycle, job, observe, spec, step, with_

from modelpipe.api.sources import ErrorReason, SourceError, SourceKey, SourceKind
from modelpipe.api.v1alpha1 import Metadata
from modelpipe.inputs import Resolved
from modelpipe.observed import JobPhase, Observed
from modelpipe.planning import CreateJob, DeleteJob, Plan
from modelpipe.planning.polling import PollState
from modelpipe.planning.sourcestatus import source_status

GIT_URL = "https://git.example/iris.git"
FOLLOWING = spec(code={"revision": None, "git": {"url": GIT_URL, "ref": "main"}})
KEY = SourceKey(SourceKind.GIT, GIT_URL, "main")


def rows(value: str | None, error: SourceError | None = None, failures: int = 0) -> tuple:  # type: ignore[type-arg]
    state = PollState(
        value=value, resolved_time=NOW if value else None, last_check_time=NOW, error=error,
        consecutive_failures=failures,
    )  # fmt: skip
    return (source_status("code", KEY, state),)


def sources_ready(planned: Plan) -> tuple[str, str, str]:
    found = next(c for c in planned.status.conditions if c.type == "SourcesReady")
    return found.status, found.reason, found.message


def created(planned: Plan) -> list[str]:
    return [a.manifest["metadata"]["name"] for a in planned.actions if isinstance(a, CreateJob)]


def test_resolved_commit_starts_one_run_and_records_its_origin() -> None:
    first = observe(FOLLOWING)
    first = with_(first, resolved=Resolved(code_revision="a" * 40), sources=rows("a" * 40))
    planned = step(first)
    assert len(created(planned)) == 1
    inputs = planned.status.inputs
    assert inputs is not None and inputs.code_revision == "a" * 40
    assert (inputs.code_revision_from, inputs.code_resolved_at) == (
        "Followed",
        "2026-11-27T12:00:00Z",
    )
    assert inputs.dataset_version_from == "Pinned"
    assert sources_ready(planned)[:2] == ("True", "Resolved")
    assert planned.status.sources[0].resolved == "a" * 40


def test_a_new_commit_supersedes_like_a_pinned_change() -> None:
    before = with_(
        observe(FOLLOWING), resolved=Resolved(code_revision="a" * 40), sources=rows("a" * 40)
    )
    old = step(before).status.inputs.model_version  # type: ignore[union-attr]
    running = cycle(before, jobs=(job(old, JobPhase.ACTIVE),))
    pushed = with_(running, resolved=Resolved(code_revision="b" * 40), sources=rows("b" * 40))
    planned = step(pushed)
    assert any(isinstance(a, DeleteJob) for a in planned.actions)
    assert len(created(planned)) == 1


def test_pinned_revision_wins() -> None:
    pinned = spec(code={"revision": "v1", "git": {"url": GIT_URL, "ref": "main"}})
    planned = step(with_(observe(pinned), resolved=Resolved(code_revision="a" * 40)))
    assert planned.status.inputs.code_revision == "v1"  # type: ignore[union-attr]
    assert planned.status.inputs.code_revision_from == "Pinned"  # type: ignore[union-attr]


def test_restart_before_the_first_poll_keeps_inputs_and_the_running_job() -> None:
    seen = with_(
        observe(FOLLOWING), resolved=Resolved(code_revision="a" * 40), sources=rows("a" * 40)
    )
    version = step(seen).status.inputs.model_version  # type: ignore[union-attr]
    after_restart = cycle(seen, jobs=(job(version, JobPhase.ACTIVE),), resolved=None, sources=())
    planned = step(after_restart)
    assert planned.status.inputs.model_version == version  # type: ignore[union-attr]
    assert not any(isinstance(a, DeleteJob | CreateJob) for a in planned.actions)


def test_unreachable_source_sets_the_condition_and_starts_nothing() -> None:
    seen = with_(
        observe(FOLLOWING), resolved=Resolved(code_revision="a" * 40), sources=rows("a" * 40)
    )
    version = step(seen).status.inputs.model_version  # type: ignore[union-attr]
    down = rows(
        "a" * 40, SourceError(ErrorReason.UNREACHABLE, "cannot reach the server"), failures=4
    )
    planned = step(cycle(seen, jobs=(job(version, JobPhase.ACTIVE),), sources=down))
    status, reason, message = sources_ready(planned)
    assert (status, reason) == ("False", "Unreachable")
    assert "keeping the last resolved inputs" in message and "4 failed checks" in message
    assert not any(isinstance(a, DeleteJob | CreateJob) for a in planned.actions)
    assert planned.status.sources[0].consecutive_failures == 4


def ready(planned: Plan) -> tuple[str, str, str]:
    found = next(c for c in planned.status.conditions if c.type == "Ready")
    return found.status, found.reason, found.message


def test_a_failing_source_makes_ready_false_while_the_last_model_serves() -> None:
    """Ready's one meaning (issue 11.4): a followed URL that 404s cannot take effect."""
    seen = with_(
        observe(FOLLOWING), resolved=Resolved(code_revision="a" * 40), sources=rows("a" * 40)
    )
    assert ready(step(seen))[1] != "SourceFailed"
    gone = rows("a" * 40, SourceError(ErrorReason.NOT_FOUND, "ref main not found"), failures=1)
    status, reason, message = ready(step(cycle(seen, sources=gone)))
    assert (status, reason) == ("False", "SourceFailed")
    assert message.startswith("RefNotFound: ") or message.startswith("NotFound: ")


def test_a_source_that_never_resolves_fails_rather_than_waits() -> None:
    never = rows(None, SourceError(ErrorReason.NOT_FOUND, "404"), failures=2)
    status, reason, _ = ready(step(with_(observe(FOLLOWING), sources=never)))
    assert (status, reason) == ("False", "SourceFailed")
    assert ready(step(with_(observe(FOLLOWING), sources=rows(None))))[1] == "WaitingForInputs"


def test_not_yet_resolved_waits() -> None:
    planned = step(with_(observe(FOLLOWING), sources=rows(None)))
    assert created(planned) == []
    assert sources_ready(planned)[:2] == ("False", "Resolving")


def test_invalid_schedule_is_a_condition() -> None:
    planned = step(observe(spec(schedule="61 * * * *")))
    status, reason, message = sources_ready(planned)
    assert (status, reason) == ("False", "InvalidSchedule") and "61 * * * *" in message


def test_pinned_pipelines_carry_no_sources_condition() -> None:
    assert not any(c.type == "SourcesReady" for c in step(observe()).status.conditions)


def test_max_bytes_reaches_the_trainer() -> None:
    limited = spec(dataset={"maxBytes": 12345})
    planned = step(observe(limited))
    (create,) = [a for a in planned.actions if isinstance(a, CreateJob)]
    assert create.config_map is not None
    config = create.config_map["data"]["run-config.json"]
    assert '"maxDownloadBytes":12345' in config.replace(" ", "")


DEBOUNCED = spec(
    code={"revision": None, "git": {"url": GIT_URL, "ref": "main"}},
    triggers={"quietPeriod": "2m", "minInterval": "10m"},
)


def pushed(sha: str, *times_min: float) -> dict[str, object]:
    changes = tuple(NOW + timedelta(minutes=m) for m in times_min)
    return {
        "resolved": Resolved(code_revision=sha),
        "sources": rows(sha),
        "source_changes": changes,
    }


def test_quiet_period_folds_a_burst_into_one_run() -> None:
    first = with_(observe(DEBOUNCED), **pushed("a" * 40, 0))
    held = step(first, minutes=1)
    assert created(held) == [] and held.requeue_after == 60
    burst = with_(first, **pushed("b" * 40, 0, 1.5))  # a second push during the quiet period
    assert created(step(burst, minutes=3)) == []  # quiet until 3.5 min
    (name,) = created(step(burst, minutes=3.5))
    assert step(burst, minutes=3.5).status.inputs.code_revision == "b" * 40  # type: ignore[union-attr]
    assert name.startswith("iris-")


def test_min_interval_spaces_automatic_runs() -> None:
    first = with_(observe(DEBOUNCED), **pushed("a" * 40, 0))
    started = step(first, minutes=2)
    assert len(created(started)) == 1  # run starts at 12:02
    later = with_(first, status=started.status, **pushed("b" * 40, 0, 3))
    assert created(step(later, minutes=6)) == []  # quiet period over, min interval (12:12) not
    assert step(later, minutes=6).requeue_after == 360
    assert len(created(step(later, minutes=12))) == 1


def test_spec_edits_are_not_debounced() -> None:
    first = with_(observe(DEBOUNCED), **pushed("a" * 40, 0))
    settled = with_(first, status=step(first, minutes=2).status)  # ran at 12:02
    edited = with_(settled, spec=spec(
        code={"revision": None, "git": {"url": GIT_URL, "ref": "main"}},
        triggers={"quietPeriod": "2m", "minInterval": "10m"},
        training={"estimator": {"className": "sklearn.tree.DecisionTreeClassifier"}},
    ))  # fmt: skip
    assert len(created(step(edited, minutes=3))) == 1


def scheduled(cron: str) -> Observed:
    observed = observe(spec(schedule=cron))
    created_at = Metadata(
        **{**observed.metadata.model_dump(), "creation_timestamp": "2026-11-27T10:00:00Z"}
    )
    return with_(observed, metadata=created_at)


def test_schedule_retrains_once_per_slot() -> None:
    pipeline = scheduled("0 * * * *")  # hourly; created 10:00, now 12:00
    first = step(pipeline)
    assert first.status.inputs.schedule_slot == "2026-11-27T12:00:00Z"  # type: ignore[union-attr]
    assert len(created(first)) == 1 and first.requeue_after == 3600
    version = first.status.inputs.model_version  # type: ignore[union-attr]
    same_slot = cycle(pipeline, jobs=(job(version, JobPhase.ACTIVE),))
    assert created(step(same_slot, minutes=30)) == []  # same slot: the run exists already
    next_slot = step(same_slot, minutes=60)
    assert len(created(next_slot)) == 1
    assert next_slot.status.inputs.schedule_slot == "2026-11-27T13:00:00Z"  # type: ignore[union-attr]


def test_slots_before_creation_do_not_run() -> None:
    pipeline = scheduled("0 2 * * *")  # 02:00 came before the 10:00 creation
    assert step(pipeline).status.inputs.schedule_slot is None  # type: ignore[union-attr]


def test_unscheduled_hash_is_unchanged() -> None:
    assert step(observe()).status.inputs.schedule_slot is None  # type: ignore[union-attr]
