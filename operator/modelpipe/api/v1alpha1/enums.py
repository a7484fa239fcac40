"""The closed vocabularies of status: condition types, reasons, run phases and verdicts."""

from __future__ import annotations

from enum import StrEnum


class ConditionType(StrEnum):
    READY = "Ready"
    TRAINING = "Training"
    EVALUATED = "Evaluated"
    PROMOTED = "Promoted"
    DEGRADED = "Degraded"


class Reason(StrEnum):
    """Every reason a condition or an event can carry."""

    # Ready / spec
    SERVING = "Serving"
    PROGRESSING = "Progressing"
    INVALID_SPEC = "InvalidSpec"
    SUSPENDED = "Suspended"
    PVC_NOT_FOUND = "PVCNotFound"
    CREDENTIALS_REFUSED = "CredentialsRefused"
    # A named ServiceAccount that has not opted in for the pipeline (planning.accounts).
    SERVICE_ACCOUNT_REFUSED = "ServiceAccountRefused"
    DEPLOYMENT_NOT_FOUND = "DeploymentNotFound"
    # A Deployment or Service the pipeline may not write (not its own, or not opted in).
    DEPLOYMENT_CONFLICT = "DeploymentConflict"
    CONTAINER_NOT_FOUND = "ContainerNotFound"
    # Degraded: the production model's Deployment has no available pod.
    DEPLOYMENT_UNAVAILABLE = "DeploymentUnavailable"
    NO_MODEL_YET = "NoModelYet"
    # Training
    # Waiting for a slot in the training queue (the operator's limit on training Jobs).
    QUEUED = "Queued"
    # spec.training.queueName names a Kueue LocalQueue that does not exist.
    QUEUE_NOT_FOUND = "QueueNotFound"
    JOB_CREATED = "JobCreated"
    # The desired Job existed but status did not record it (created before a restart).
    ADOPTED_JOB = "AdoptedJob"
    JOB_RUNNING = "JobRunning"
    JOB_SUPERSEDED = "JobSuperseded"
    JOB_SUCCEEDED = "JobSucceeded"
    IDLE = "Idle"
    WAITING_FOR_INPUTS = "WaitingForInputs"
    SERVICE_ACCOUNT_NOT_FOUND = "ServiceAccountNotFound"
    CODE_VALIDATION_FAILED = "CodeValidationFailed"
    VALIDATION_FAILED = "ValidationFailed"
    TRAINING_FAILED = "TrainingFailed"
    # Evaluated
    GATE_PASSED = "GatePassed"
    GATE_FAILED = "GateFailed"
    NOT_EVALUATED = "NotEvaluated"
    # Tightened spec.evaluation.thresholds that the model in production does not meet.
    PRODUCTION_BELOW_THRESHOLDS = "ProductionBelowThresholds"
    # Promoted / Degraded
    PROMOTED = "Promoted"
    ROLLING_OUT = "RollingOut"
    SERVING_UPDATED = "ServingUpdated"
    ROLLOUT_FAILED = "RolloutFailed"
    ROLLED_BACK = "RolledBack"
    PINNED = "Pinned"
    PINNED_VERSION_UNKNOWN = "PinnedVersionUnknown"
    HEALTHY = "Healthy"
    # Live analysis of a promoted model in its bake window (planning.bake)
    BAKING = "Baking"
    ANALYSIS_HELD = "AnalysisHeld"
    ANALYSIS_PASSED = "AnalysisPassed"
    ANALYSIS_FAILED = "AnalysisFailed"
    CANARY_STEP = "CanaryStep"
    CANARY_ABORTED = "CanaryAborted"
    SHADOW_RUNNING = "ShadowRunning"
    SHADOW_REJECTED = "ShadowRejected"
    # Followed sources (events only; the SourcesReady condition has its own reasons)
    SOURCE_CHANGED = "SourceChanged"
    SOURCE_FAILED = "SourceFailed"
    SOURCE_RECOVERED = "SourceRecovered"
    # Notified (spec.notify webhooks; CredentialsRefused and Idle are shared)
    DELIVERED = "Delivered"
    DELIVERY_FAILED = "DeliveryFailed"


class Verdict(StrEnum):
    """How a run ended (or where it stands)."""

    RUNNING = "Running"
    PASSED = "Passed"
    PROMOTED = "Promoted"
    HELD = "Held"
    GATE_FAILED = "GateFailed"
    VALIDATION_FAILED = "ValidationFailed"
    CODE_VALIDATION_FAILED = "CodeValidationFailed"
    TRAINING_FAILED = "TrainingFailed"
    ROLLED_BACK = "RolledBack"
    SUPERSEDED = "Superseded"


# Verdicts after which the same inputs are never trained again (until retrain is requested).
FINAL_VERDICTS = frozenset(
    {
        Verdict.PROMOTED,
        Verdict.GATE_FAILED,
        Verdict.VALIDATION_FAILED,
        Verdict.CODE_VALIDATION_FAILED,
        Verdict.TRAINING_FAILED,
        Verdict.ROLLED_BACK,
    }
)
# Verdicts whose run produced a model directory that can be served or pinned.
TRAINED_VERDICTS = frozenset(
    {Verdict.PASSED, Verdict.PROMOTED, Verdict.HELD, Verdict.GATE_FAILED, Verdict.ROLLED_BACK}
)


class RunPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    ROLLING_OUT = "RollingOut"
    QUEUED = "Queued"
