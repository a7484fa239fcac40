"""Turn a finished training Job into a run record: its verdict, metrics and gate table."""

from __future__ import annotations

import signal

from modelpipe_contract.result import Outcome, TrainerResult

from modelpipe import gate
from modelpipe.api.v1alpha1 import Failure, ModelPipelineSpec, Reason, RunRecord, Verdict
from modelpipe.inputs import redact_text
from modelpipe.observed import JobPhase, ObservedJob

# InvalidConfig (an unknown estimator, bad params, a bad configFile) is the pipeline author's
# input refused before anything was trained, like bad data: a validation verdict, not a crash.
_FAILED_OUTCOMES = {
    Outcome.VALIDATION_FAILED: (Verdict.VALIDATION_FAILED, Reason.VALIDATION_FAILED),
    Outcome.INVALID_CONFIG: (Verdict.VALIDATION_FAILED, Reason.VALIDATION_FAILED),
    Outcome.TRAINING_FAILED: (Verdict.TRAINING_FAILED, Reason.TRAINING_FAILED),
    Outcome.ARTIFACT_WRITE_FAILED: (Verdict.TRAINING_FAILED, Reason.TRAINING_FAILED),
}


def judge(*, job: ObservedJob, spec: ModelPipelineSpec, base: RunRecord) -> RunRecord:
    """The record of a finished Job; ``base`` carries the identity and start time."""
    if job.phase == JobPhase.FAILED:
        return _failed(job=job, spec=spec, base=base)
    result = job.result
    if result is None or result.outcome != Outcome.SUCCEEDED:
        why = job.result_error or "no result document in the termination message"
        return _update(
            base,
            job,
            Verdict.TRAINING_FAILED,
            Reason.TRAINING_FAILED,
            f"Job succeeded but the trainer's result is unusable: {why}",
            result,
        )
    checks = gate.evaluate(
        evaluation=spec.evaluation,
        metrics=result.metrics,
        champion_metrics=result.champion_metrics,
        champion_expected=job.champion_version is not None,
        significance=result.significance,
    )
    # Which runtime will serve the model (issue 17): a scikit-learn fallback is never silent.
    serving = f"; {result.serving}" if result.serving else ""
    record = _update(
        base, job, Verdict.PASSED, Reason.GATE_PASSED, f"all gate checks passed{serving}", result
    )
    record.checks = checks
    if not gate.passed(checks):
        record.verdict, record.reason = Verdict.GATE_FAILED, Reason.GATE_FAILED
        record.message = gate.failing_summary(checks)
    return record


def _failed(*, job: ObservedJob, spec: ModelPipelineSpec, base: RunRecord) -> RunRecord:
    if job.checkout_failure:
        revision = f" of revision {base.code_revision}" if base.code_revision else ""
        return _update(
            base,
            job,
            Verdict.TRAINING_FAILED,
            Reason.TRAINING_FAILED,
            f"code checkout failed: git-clone{revision} from spec.code.git.url ended with "
            f"{job.checkout_failure}; check that the URL and the revision exist and are "
            "reachable from the training pod",
            None,
        )
    if job.code_test_failed:
        command = " ".join(spec.code.test.command) if spec.code.test else "code test"
        detail = job.code_test_message or "non-zero exit"
        return _update(
            base,
            job,
            Verdict.CODE_VALIDATION_FAILED,
            Reason.CODE_VALIDATION_FAILED,
            f"code test `{command}` failed: {detail}",
            None,
        )
    if job.upload_failure:  # trained, but never stored whole: nothing to promote
        return _update(
            base,
            job,
            Verdict.TRAINING_FAILED,
            Reason.TRAINING_FAILED,
            f"model upload failed (upload-model ended with {job.upload_failure}); "
            "an upload without its manifest.json is never served",
            None,  # no metrics: a pinnedVersion must not pick it either
        )
    result = job.result
    if result is not None and result.outcome in _FAILED_OUTCOMES:
        verdict, reason = _FAILED_OUTCOMES[result.outcome]
        return _update(base, job, verdict, reason, _outcome_message(result), result)
    detail = job.failure_message or "the Job failed"
    return _update(
        base,
        job,
        Verdict.TRAINING_FAILED,
        Reason.TRAINING_FAILED,
        f"trainer crashed ({describe_exit(job)}, no result document): {detail}",
        None,
    )


def _outcome_message(result: TrainerResult) -> str:
    """The trainer's message; the verdict is said once, by whoever shows the record."""
    if result.outcome == Outcome.INVALID_CONFIG:
        return f"invalid training configuration: {result.message}"
    return result.message


def describe_exit(job: ObservedJob) -> str:
    """How the train container ended, as the pod reported it: code, reason, signal."""
    if job.exit_code is None:
        return "the train container never finished"
    parts = [f"exit code {job.exit_code}"]
    if job.exit_reason:
        parts.append(f"reason {job.exit_reason}")
    number = job.exit_signal or (job.exit_code - 128 if 128 < job.exit_code < 160 else None)
    if number:
        try:
            parts.append(f"killed by {signal.Signals(number).name}")
        except ValueError:
            parts.append(f"killed by signal {number}")
    return ", ".join(parts)


def _update(
    base: RunRecord,
    job: ObservedJob,
    verdict: Verdict,
    reason: Reason,
    message: str,
    result: TrainerResult | None,
) -> RunRecord:
    record = base.model_copy(deep=True)
    # The trainer quotes URIs as it was given them: with credentials (docs/operator.md).
    record.verdict, record.reason, record.message = verdict, reason, redact_text(message)[:4000]
    record.start_time = job.start_time or record.start_time
    record.completion_time = job.completion_time
    if job.phase == JobPhase.SUCCEEDED:  # upload-model exited 0: the manifest is there
        record.model_uri = job.model_uri
    if result is not None:
        record.data_hash = result.data_hash
        record.metrics = dict(result.metrics)
        record.serving_runtime = result.serving_runtime
        record.champion_metrics = dict(result.champion_metrics) if result.champion_metrics else None
        record.failures = [
            Failure(check=f.check, column=f.column, message=redact_text(f.message)[:500])
            for f in result.failures
        ][:64]
        record.failures_truncated = result.failures_truncated + max(0, len(result.failures) - 64)
    return record


def describe_failures(record: RunRecord, *, limit: int = 5) -> str:
    """A one-line summary of a validation report for events."""
    shown = [
        f"{f.check}({f.column}): {f.message}" if f.column else f"{f.check}: {f.message}"
        for f in record.failures[:limit]
    ]
    hidden = len(record.failures) - len(shown) + record.failures_truncated
    more = f"; and {hidden} more" if hidden > 0 else ""
    return "; ".join(shown) + more
