"""Names, labels and paths shared by the planner, the manifests and the gatherer.

Deterministic names are what make reconciles idempotent: the same inputs always
map to the same Job, so a restarted operator finds its Job instead of making another.
"""

from __future__ import annotations

PIPELINE_LABEL = "modelpipe.io/pipeline"
MODEL_VERSION_LABEL = "modelpipe.io/model-version"
INPUT_HASH_LABEL = "modelpipe.io/input-hash"
MODEL_VERSION_ANNOTATION = "modelpipe.io/model-version"
# On a created Deployment: the hash of what spec.serving asks of it, the model aside.
SERVING_HASH_ANNOTATION = "modelpipe.io/serving-hash"
RETRAIN_ANNOTATION = "modelpipe.io/retrain"
# On the pipeline: a new value retries a rolled-back rollout now (planning.retry).
RETRY_ROLLOUT_ANNOTATION = "modelpipe.io/retry-rollout"
# On the serving pod template: which rollout of the model it is, so a retry rolls anew.
ROLLOUT_ATTEMPT_ANNOTATION = "modelpipe.io/rollout-attempt"
# On a user's Deployment (spec.serving.deploymentName): the pipeline it agrees to be served by.
PIPELINE_ANNOTATION = "modelpipe.io/pipeline"
# On a training Job with spec.training.queueName: the Kueue LocalQueue that admits it.
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# The LocalQueue the operator asked for when it made the Job ("" for none). Kueue's
# LocalQueueDefaulting may label a Job made without a queue with its namespace's
# "default" LocalQueue; the Job then waits where Kueue put it, not requeued every pass.
QUEUE_ASKED_ANNOTATION = "modelpipe.io/queue-name"
KUEUE_PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"  # a WorkloadPriorityClass
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "modelpipe-operator"

ARTIFACTS_MOUNT = "/artifacts"
ARTIFACTS_VOLUME = "artifacts"
TRAIN_CONTAINER = "train"
GIT_CONTAINER = "git-clone"
CODE_TEST_CONTAINER = "code-test"
SERVE_CONTAINER = "serve"
MODEL_DIR_ENV = "MODEL_DIR"
MODEL_VERSION_ENV = "MODEL_VERSION"
MODEL_NAME_ENV = "MODEL_NAME"
HASH_LENGTH = 8


def model_version(input_hash: str) -> str:
    """The model version for a set of inputs: the first 8 hex digits of their hash."""
    return input_hash[:HASH_LENGTH]


def job_name(*, pipeline: str, version: str) -> str:
    return f"{pipeline}-{version}"


def pipeline_artifacts_dir(pipeline: str) -> str:
    return f"{ARTIFACTS_MOUNT}/{pipeline}"


def model_dir(*, pipeline: str, version: str) -> str:
    """Where the trainer writes a model and where serving reads it: <pipeline>/<version>/."""
    return f"{pipeline_artifacts_dir(pipeline)}/{version}"


# The canary Deployment (spec.serving.strategy Canary): its pods carry this label, so its
# selector is its own while the pipeline's Service still selects them.
TRACK_LABEL = "modelpipe.io/track"
CANARY_SUFFIX = "-canary"

# The shadow (spec.serving.strategy Shadow): a Deployment and a Service of this suffix, its
# pods outside the pipeline's Service; production's server copies requests to it (the
# server's MODELPIPE_SHADOW_TARGET, host:port of that Service, derived from the name only).
SHADOW_SUFFIX = "-shadow"
SHADOW_TARGET_ENV = "MODELPIPE_SHADOW_TARGET"
