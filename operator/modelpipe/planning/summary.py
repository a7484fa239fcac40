"""The summary conditions, decided last from what the checks found: Degraded, Evaluated,
Promoted and Ready.

Ready has one meaning (docs/operator.md, "Conditions"): ``True`` iff what the current
spec asks for is serving — the model the current inputs train to (or
``spec.serving.pinnedVersion``) is in production and its Deployment is available.
Otherwise ``False``, with a reason saying why those inputs cannot reach production
(a failure: GateFailed, ValidationFailed, RolledBack, ...) or what is under way
(JobRunning, RollingOut, WaitingForInputs, ...). ``status.production`` always says
what serves, whatever Ready says.

Degraded is only about the production model's own serving: its Deployment missing,
without available pods, or stuck in a rollout of the production model. A candidate's
failure is not Degraded (production still serves); it is Ready=False for the inputs
that produced it, and history once newer inputs run.

    Ready=True  ◀── production == asked-for model, Deployment available
    Ready=False ◀── blocker | production serving fails | rolling out | training
                    | asked-for run failed | suspended | debounced | nothing yet
"""

from __future__ import annotations

from modelpipe import gate
from modelpipe.api.v1alpha1 import ConditionType, Reason, RunPhase, Verdict
from modelpipe.layout import RETRAIN_ANNOTATION
from modelpipe.planning.draft import NOTHING, Decided, Part, Verdicted, condition, emit
from modelpipe.planning.outcome import EventType
from modelpipe.planning.sources import failing_source

# A run of the asked-for inputs that ended here cannot reach production: why, in words.
_FAILED = {
    Verdict.GATE_FAILED: (Reason.GATE_FAILED, "failed the gate"),
    Verdict.VALIDATION_FAILED: (Reason.VALIDATION_FAILED, "failed data validation"),
    Verdict.CODE_VALIDATION_FAILED: (Reason.CODE_VALIDATION_FAILED, "failed its code test"),
    Verdict.TRAINING_FAILED: (Reason.TRAINING_FAILED, "failed to train"),
    Verdict.ROLLED_BACK: (Reason.ROLLED_BACK, "was rolled back"),
}


def degraded_condition(d: Decided) -> Part:
    """Degraded=True iff the production model's own serving is failing."""
    production, deployment = d.status.production, d.obs.deployment
    if production is None:
        return condition(
            ConditionType.DEGRADED, "False", Reason.HEALTHY, "no model in production yet"
        )
    version = production.model_version
    if deployment is None:
        name = d.spec.serving.deployment_name or d.obs.metadata.name
        return condition(
            ConditionType.DEGRADED,
            "True",
            Reason.DEPLOYMENT_NOT_FOUND,
            f"Deployment {name} not found: model {version} in production is not served",
        )
    elif deployment.template_version == version and deployment.rollout_failed:
        return condition(
            ConditionType.DEGRADED,
            "True",
            Reason.ROLLOUT_FAILED,
            f"model {version} in production is not becoming ready on Deployment "
            f"{deployment.name} (ProgressDeadlineExceeded)",
        )
    elif deployment.replicas > 0 and deployment.available_replicas == 0 and not _canary_serves(d):
        return condition(
            ConditionType.DEGRADED,
            "True",
            Reason.DEPLOYMENT_UNAVAILABLE,
            f"Deployment {deployment.name} has no available pod (0 of {deployment.replicas}): "
            f"model {version} in production is not served",
        )
    else:
        return condition(
            ConditionType.DEGRADED,
            "False",
            Reason.HEALTHY,
            f"model {version} in production is served by Deployment {deployment.name}",
        )


def _canary_serves(d: Decided) -> bool:
    """A canary's pods answer while production's Deployment is at zero or rolling to it
    after a step of 100% (planning.canary): the Service still serves."""
    canary = d.obs.canary
    return d.status.canary is not None and canary is not None and canary.available_replicas > 0


def evaluated_condition(d: Decided) -> Part:
    """The gate's verdict on the latest finished run; production against today's gate first."""
    below = _production_below_thresholds(d)
    if below is not None:
        return below
    last = next((r for r in d.status.history if r.verdict != Verdict.RUNNING), None)
    if last is None:
        return condition(
            ConditionType.EVALUATED, "Unknown", Reason.NOT_EVALUATED, "no finished run yet"
        )
    elif last.verdict == Verdict.GATE_FAILED:
        return condition(
            ConditionType.EVALUATED,
            "False",
            Reason.GATE_FAILED,
            f"model {last.model_version}: {last.message}",
        )
    elif last.checks or last.verdict in (Verdict.PASSED, Verdict.PROMOTED):
        return condition(
            ConditionType.EVALUATED,
            "True",
            Reason.GATE_PASSED,
            f"model {last.model_version} passed the gate",
        )
    else:
        why = f": {last.message}" if last.message else ""
        return condition(
            ConditionType.EVALUATED,
            "False",
            Reason.NOT_EVALUATED,
            f"model {last.model_version} was not evaluated: {last.verdict.value}{why}"[:1024],
        )


def _production_below_thresholds(d: Decided) -> Part | None:
    """Tightened thresholds: Evaluated=False (warned once) if production's recorded result
    no longer meets them, else None.

    Thresholds are not an input (changing them retrains nothing), so the model in
    production is checked against them with the metrics it was promoted with. The
    champion comparison needs no such check: every run measures the champion afresh.
    """
    production = d.status.production
    thresholds = d.spec.evaluation.thresholds
    if production is None or not production.metrics or not thresholds:
        return None
    checks = [gate.check_threshold(t, production.metrics.get(t.metric)) for t in thresholds]
    if gate.passed(checks):
        return None
    message = (
        f"model {production.model_version} in production does not meet "
        f"spec.evaluation.thresholds: {gate.failing_summary(checks)}; it keeps serving: "
        f"retrain (annotate {RETRAIN_ANNOTATION}) or change the thresholds"
    )
    part = condition(ConditionType.EVALUATED, "False", Reason.PRODUCTION_BELOW_THRESHOLDS, message)
    before = next((c for c in d.previous.conditions if c.type == ConditionType.EVALUATED), None)
    if before is None or (before.reason, before.message) != (
        Reason.PRODUCTION_BELOW_THRESHOLDS,
        message,
    ):
        part += emit(EventType.WARNING, Reason.PRODUCTION_BELOW_THRESHOLDS, message)
    return part


def promoted_condition(d: Decided) -> Part:
    """Left unsaid by the serving checks (production's own rollout failing, a blocker)."""
    if ConditionType.PROMOTED in d.conditions:
        return NOTHING
    production = d.status.production
    if production is None:
        return condition(
            ConditionType.PROMOTED, "False", Reason.NO_MODEL_YET, "no model promoted yet"
        )
    return condition(
        ConditionType.PROMOTED,
        "True",
        Reason.PROMOTED,
        f"model {production.model_version} is in production ({production.reason})",
    )


# A promoted model's bake window runs: Ready waits for its verdict (Argo CD: Progressing).
_BAKING = (Reason.BAKING, Reason.ANALYSIS_HELD)
# A canary step or a shadow runs (or is held): Ready says how, Argo CD shows Progressing.
_STEPPING = (Reason.CANARY_STEP, Reason.SHADOW_RUNNING, Reason.ANALYSIS_HELD)


def ready_condition(d: Decided) -> Part:
    return Part(conditions=((ConditionType.READY, d.blocker or _ready(d)),))


def _ready(d: Decided) -> Verdicted:
    production = d.status.production
    asked = d.spec.serving.pinned_version or (
        d.status.inputs.model_version if d.status.inputs else None
    )
    serves = f"; model {production.model_version} keeps serving" if production else ""
    failing = failing_source(d)
    if failing is not None:
        # The spec follows something that cannot be resolved, so what it asks for is not
        # known to serve: not Ready, with the source's own words (SourcesReady has detail).
        return Verdicted("False", Reason.SOURCE_FAILED, f"{failing}{serves}"[:2048])
    if production is not None and production.model_version == asked:
        degraded = d.conditions.get(ConditionType.DEGRADED)
        if degraded is not None and degraded.status == "True":
            return Verdicted("False", degraded.reason, degraded.message)
        promoted = d.conditions.get(ConditionType.PROMOTED)
        if promoted is not None and promoted.reason in _BAKING:  # planning.bake
            return Verdicted("False", promoted.reason, promoted.message)
        return Verdicted(
            "True",
            Reason.SERVING,
            f"serving model {production.model_version} (code {production.code_revision}, "
            f"dataset {production.dataset_version})",
        )
    if asked is not None and d.rolling_out == asked:
        promoted = d.conditions.get(ConditionType.PROMOTED)
        if promoted is not None and promoted.reason in _STEPPING:  # planning.canary, .shadow
            return Verdicted("False", promoted.reason, f"{promoted.message}{serves}"[:2048])
        return Verdicted("False", Reason.ROLLING_OUT, f"rolling out model {asked}{serves}")
    run = d.status.current_run
    if run is not None and run.model_version == asked and run.phase == RunPhase.QUEUED:
        return Verdicted(  # waiting for Kueue (planning.kueue); the operator's queue blocks
            "False",
            Reason.QUEUED,
            f"model {asked} waits for admission (Job {run.job_name}){serves}",
        )
    if run is not None and run.model_version == asked and run.phase != RunPhase.ROLLING_OUT:
        return Verdicted(
            "False", Reason.JOB_RUNNING, f"training model {asked} (Job {run.job_name}){serves}"
        )
    record = d.find(asked) if asked else None
    if record is not None and record.verdict in _FAILED:
        reason, phrase = _FAILED[record.verdict]
        detail = f": {record.message}" if record.message else ""
        return Verdicted("False", reason, f"model {asked} {phrase}{detail}{serves}"[:2048])
    if d.spec.suspend:
        return Verdicted(
            "False", Reason.SUSPENDED, f"spec.suspend is true: model {asked} is not trained{serves}"
        )
    if d.hold is not None:
        return Verdicted("False", Reason.PROGRESSING, f"{d.hold}{serves}")
    if production is None:
        return Verdicted(
            "False", Reason.NO_MODEL_YET, "no model has passed the gate and rolled out yet"
        )
    return Verdicted("False", Reason.PROGRESSING, f"model {asked} is not serving yet{serves}")
