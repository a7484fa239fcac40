"""Conditions as status stores them: merged with the previous ones, and the plan of a
spec that cannot be acted on (it does not parse, or the API server refuses what it makes).
"""

from __future__ import annotations

from collections.abc import Mapping

from modelpipe.api.v1alpha1 import Condition, ConditionType, Reason
from modelpipe.observed import Observed
from modelpipe.planning.draft import Verdicted
from modelpipe.planning.outcome import Event, EventType, Plan


def merge_conditions(
    previous: list[Condition],
    verdicts: Mapping[ConditionType, Verdicted],
    *,
    generation: int | None,
    stamp: str,
) -> list[Condition]:
    """Keep lastTransitionTime unless a condition's status flipped."""
    before = {c.type: c for c in previous}
    # Conditions of other writers (e.g. SourcesReady from source polling) are kept as they are.
    merged = [c for c in previous if c.type not in set(ConditionType)]
    for type_ in ConditionType:
        verdict = verdicts.get(type_)
        if verdict is None:
            continue
        old = before.get(type_)
        moved = old is None or old.status != verdict.status
        merged.append(
            Condition(
                type=type_,
                status=verdict.status,
                reason=verdict.reason,
                message=verdict.message[:2048],
                last_transition_time=stamp if moved or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    return merged


def unusable_spec(
    observed: Observed,
    stamp: str,
    *,
    problem: str,
    detail: str = "",
    wake_after: float | None = None,
) -> Plan:
    """A spec that cannot be acted on: say so once, touch nothing, wait for the next edit.

    ``problem`` is what is wrong (told once, in an event); ``detail`` may change from
    pass to pass without a new event (the next attempt's time).

    Training, Evaluated and Promoted become Unknown for this generation, so nothing
    written for an older spec (a Training=True, say) hides Ready=False InvalidSpec.
    Degraded keeps its older generation: it is not assessed without a spec.
    """
    status = observed.status
    message = f"{problem}{detail}"[:2048]
    before = next((c for c in status.conditions if c.type == ConditionType.READY), None)
    told = (
        before is not None
        and before.reason == Reason.INVALID_SPEC
        and before.message.startswith(problem[:2048])
    )
    unknown = Verdicted("Unknown", Reason.INVALID_SPEC, "not assessed while the spec is invalid")
    verdicts = {
        ConditionType.READY: Verdicted("False", Reason.INVALID_SPEC, message),
        ConditionType.TRAINING: unknown,
        ConditionType.EVALUATED: unknown,
        ConditionType.PROMOTED: unknown,
    }
    kept = [c for c in status.conditions if c.type == ConditionType.DEGRADED]
    merged = merge_conditions(
        status.conditions, verdicts, generation=observed.metadata.generation, stamp=stamp
    )
    status = status.model_copy(
        update={
            "conditions": [c for c in merged if c.type != ConditionType.DEGRADED] + kept,
            "observed_generation": observed.metadata.generation,
        }
    )
    events = () if told else (Event(EventType.WARNING, Reason.INVALID_SPEC, problem),)
    return Plan(status=status, events=events, requeue_after=wake_after)
