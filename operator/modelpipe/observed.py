"""The world as one frozen value: what the gatherer read and the planner decides from.

The gatherer (``modelpipe.k8s.observe``) builds it; tests build it by hand. Nothing here
knows about kopf or a Kubernetes client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from modelpipe_contract.result import TrainerResult

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.sources import Observation
from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec, ModelPipelineStatus
from modelpipe.api.v1alpha1.status import SourceStatus
from modelpipe.inputs import Resolved


class JobPhase(StrEnum):
    ACTIVE = "Active"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class SeenCheck:
    """One ``pvc://`` dataset hash Job of this pipeline's current source, as read from the API."""

    name: str
    slot: int
    # When it finished (completion or failure); None while it runs.
    finished_at: datetime | None = None
    # Its result from the termination message; None while it runs.
    observation: Observation | None = None


@dataclass(frozen=True)
class ObservedJob:
    """A training Job owned by the pipeline, with what its pods reported."""

    name: str
    model_version: str
    phase: JobPhase
    # The Kueue LocalQueue that admits it (its kueue.x-k8s.io/queue-name label), and
    # whether it is still suspended, i.e. not admitted yet; "" and False for the others.
    queue_name: str = ""
    suspended: bool = False
    # The queue the operator asked for when it made the Job (its modelpipe.io/queue-name
    # annotation); None for a Job made before that annotation existed.
    asked_queue: str | None = None
    start_time: str | None = None
    completion_time: str | None = None
    deleting: bool = False
    # Job condition message when it failed (BackoffLimitExceeded, DeadlineExceeded, ...).
    failure_message: str = ""
    # The trainer's result document from the train container's termination message.
    result: TrainerResult | None = None
    # Why the termination message could not be read as a result document.
    result_error: str | None = None
    exit_code: int | None = None
    # The train container's terminated reason (Error, OOMKilled, ...) and signal, if any.
    exit_reason: str = ""
    exit_signal: int | None = None
    # The production version the Job compared against (the champion), if any.
    champion_version: str | None = None
    code_test_failed: bool = False
    code_test_message: str = ""
    # How the git-clone init container failed (exit code, reason), in the operator's words
    # (its own output may quote the remote); empty unless it failed.
    checkout_failure: str = ""
    # spec.artifacts.s3: the run's own prefix (the Job's base URI and uid), and how the
    # upload-model container failed (its own message: S3 error codes, never a key).
    model_uri: str | None = None
    upload_failure: str = ""


@dataclass(frozen=True)
class ObservedAutoscaler:
    """The HorizontalPodAutoscaler named after the pipeline (spec.serving.autoscaling)."""

    uid: str
    # Controlled by this pipeline, as ObservedDeployment.owned; another one is left alone.
    owned: bool
    # modelpipe.io/serving-hash of one the operator created (manifests.autoscaling).
    serving_hash: str | None = None


@dataclass(frozen=True)
class ObservedDeployment:
    """The serving Deployment's template version and rollout state."""

    name: str
    # Controlled by this pipeline: an ownerReference with its uid and ``controller: true``.
    owned: bool
    generation: int
    observed_generation: int
    replicas: int
    updated_replicas: int = 0
    # status.replicas: pods of every ReplicaSet, old ones included.
    total_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    template_version: str | None = None
    # modelpipe.io/serving-hash of a Deployment the operator created (see manifests.serving).
    serving_hash: str | None = None
    containers: tuple[str, ...] = ()
    # The pod template's nodeSelector keys: a serving patch nulls those the spec dropped.
    node_selector_keys: tuple[str, ...] = ()
    progress_deadline_exceeded: bool = False
    # spec.progressDeadlineSeconds (the apiserver's default 600): what a user's Deployment
    # is held to; on one the operator owns it is the deadline planning.deadline chose.
    progress_deadline_seconds: int = 600
    # Carries ``modelpipe.io/pipeline: <this pipeline>``: a user's Deployment opted in to
    # be served by it (spec.serving.deploymentName).
    opted_in: bool = False
    # Read only after ProgressDeadlineExceeded (k8s/rollout.py): the new pods' restarts
    # and the last reason one stopped, so a rollback tells crashing from slow to start.
    restarts: int = 0
    crash: str | None = None

    @property
    def rolled_out(self) -> bool:
        """As ``kubectl rollout status``: latest template seen, no old pods left, all available.

        During a surge the old pod still counts as available, so the updated count alone
        would call a rollout done while the new pod is not Ready.
        """
        return (
            self.observed_generation >= self.generation
            and self.updated_replicas >= self.replicas
            and self.total_replicas <= self.updated_replicas
            and self.available_replicas >= self.replicas
            and self.ready_replicas >= self.replicas
        )

    @property
    def rollout_failed(self) -> bool:
        return self.observed_generation >= self.generation and self.progress_deadline_exceeded


@dataclass(frozen=True)
class PodMetrics:
    """One serving pod's ``/metrics`` (k8s/analysis.py), cumulative since the pod started:
    inference requests (``infer`` and ``predict``), those answered 5xx, rows predicted, and
    their latency histogram as (upper bound in seconds, cumulative count), ``+Inf`` last."""

    pod: str
    version: str | None
    requests: float = 0.0
    errors: float = 0.0
    rows: float = 0.0
    latency_buckets: tuple[tuple[float, float], ...] = ()
    # A production pod mirroring to a shadow: rows compared, by the shadow's model version,
    # as (version, agreed, disagreed).
    agreement: tuple[tuple[str, float, float], ...] = ()
    # Why it could not be read (refused, timed out, not Prometheus text); then the rest is 0.
    problem: str | None = None


@dataclass(frozen=True)
class Refusal:
    """The API server refused a write this generation's spec asked for (400/422).

    Remembered by the reconciler (in memory) to back off; see modelpipe.planning.refusal.
    """

    generation: int | None
    write: str  # e.g. "create Service a.b"
    message: str  # the API server's own words
    attempts: int
    retry_at: datetime


@dataclass(frozen=True)
class WebhookTarget:
    """A spec.notify webhook as the gatherer found its Secret: the URL, or why none.

    ``repr`` never shows the URL (it is a credential); only the sender reads it.
    """

    name: str
    url: str = field(default="", repr=False)
    problem: str | None = None


@dataclass(frozen=True)
class Delivery:
    """How the sender's delivery of one notification ended (modelpipe.k8s.notifier)."""

    webhook: str
    id: str
    delivered: bool
    attempts: int
    result: str  # in the operator's words: "HTTP 204", "timed out"; never the URL
    finished_at: str


@dataclass(frozen=True)
class QueueSeat:
    """The training queue's answer for this pass: no slot yet (planning.queue, k8s.queue)."""

    position: int  # 1 starts next
    waiting: int
    limits: str  # e.g. "at most 4 training Jobs in the cluster"


@dataclass(frozen=True)
class KueueQueue:
    """spec.training.queueName's Kueue LocalQueue, as read (``exists`` False: not found)."""

    name: str
    exists: bool
    cluster_queue: str = ""
    pending: int = 0


@dataclass(frozen=True)
class Observed:
    """Everything one reconcile of one pipeline needs to decide."""

    metadata: Metadata
    status: ModelPipelineStatus
    spec: ModelPipelineSpec | None
    # Set when the stored spec does not parse (e.g. written before a CRD upgrade).
    spec_error: str | None = None
    jobs: tuple[ObservedJob, ...] = ()
    deployment: ObservedDeployment | None = None
    # The canary Deployment (spec.serving.strategy Canary, or one left to retire).
    canary: ObservedDeployment | None = None
    # The shadow Deployment (spec.serving.strategy Shadow, or one left to retire), and
    # whether a Service of its name exists and is this pipeline's.
    shadow: ObservedDeployment | None = None
    shadow_service_exists: bool = False
    shadow_service_owned: bool = False
    # The serving pods' /metrics (and the shadow's), read only while a bake window, a
    # canary or a shadow runs.
    pod_metrics: tuple[PodMetrics, ...] = ()
    service_exists: bool = False
    # The Service of that name is controlled by this pipeline (see ObservedDeployment.owned).
    service_owned: bool = False
    # Read with spec.serving.template only: one to update, or to delete once not asked for.
    autoscaler: ObservedAutoscaler | None = None
    pvc_exists: bool = True
    # spec.training.serviceAccountName exists (or none is named).
    service_account_exists: bool = True
    # Inputs resolved by followed sources, when the spec leaves them to a source.
    resolved: Resolved | None = None
    # Status rows of the followed sources (modelpipe.sources.follower.resolved).
    sources: tuple[SourceStatus, ...] = ()
    # When followed sources were seen changing (newest last), for debouncing.
    source_changes: tuple[datetime, ...] = ()
    # The pipeline's hash Jobs for a followed pvc:// dataset, and whether its claim exists.
    dataset_checks: tuple[SeenCheck, ...] = ()
    dataset_claim_exists: bool = True
    # Why spec.code.git.credentialsSecret cannot be used (modelpipe.sources.credentials).
    credentials_problem: str | None = None
    # Why spec.artifacts.s3.credentialsSecret cannot be used: no Job, no Deployment write.
    artifacts_problem: str | None = None
    # Why the pods must not run as the ServiceAccounts the spec names (planning.accounts).
    service_account_problem: str | None = None
    # A write of this pipeline the API server refused as invalid, while backing off.
    refusal: Refusal | None = None
    # The Job this pass would start must wait in the training queue.
    queue: QueueSeat | None = None
    # Read only with spec.training.queueName: Kueue admits the training Jobs instead.
    kueue: KueueQueue | None = None
    # spec.notify's webhooks, and the deliveries the sender finished since status said so.
    webhooks: tuple[WebhookTarget, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    # The operator's configuration (read once at start-up): images of its own containers.
    config: OperatorConfig = UNCONFIGURED

    def job(self, name: str) -> ObservedJob | None:
        return next((j for j in self.jobs if j.name == name), None)
