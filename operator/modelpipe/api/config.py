"""The operator's own configuration, as one frozen value.

The Helm chart sets these variables on the operator's pod. ``modelpipe.main`` reads them
once at start-up (``OperatorConfig.from_environment(os.environ)``); from there the value
travels as an argument: the reconciler gives it to the gatherer, which parses each spec
with it (``ModelPipelineSpec.model_validate(body, context=config)``) and hands it to
``plan()`` in ``Observed.config``. Decision code never reads the environment
(``.importlinter`` forbids ``os`` there), so the same spec and config always make the
same plan, and a test states the configuration instead of patching the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_TRAINER_IMAGE = "ghcr.io/modelpipe/modelpipe-trainer:0.1.0"
# Helm value trainer.image: spec.code.image when a pipeline names none, and the image of
# the operator's own helpers in a training pod (git-clone, fetch-s3).
TRAINER_IMAGE_ENV = "MODELPIPE_TRAINER_IMAGE"
# Helm value server.image: the serving image when a pipeline names no image at all.
SERVER_IMAGE_ENV = "MODELPIPE_SERVER_IMAGE"
# Helm value pods.priorityClassNames, comma-separated: the PriorityClasses pods may use.
PRIORITY_CLASSES_ENV = "MODELPIPE_PRIORITY_CLASSES"
# Helm value kueue.enabled: "false" means no Kueue here (and no RBAC on its LocalQueues),
# so spec.training.queueName is refused with a condition instead of a Job nothing admits.
KUEUE_ENV = "MODELPIPE_KUEUE"
# Helm value kueue.defaultQueue: the LocalQueue (in each pipeline's own namespace) of every
# pipeline that names none; empty: such pipelines use the operator's own training queue.
KUEUE_DEFAULT_QUEUE_ENV = "MODELPIPE_KUEUE_DEFAULT_QUEUE"
# Helm value kueue.priorityClassNames, comma-separated: the WorkloadPriorityClasses a
# pipeline may put on its Kueue Job (spec.training.workloadPriorityClassName).
KUEUE_PRIORITY_CLASSES_ENV = "MODELPIPE_KUEUE_PRIORITY_CLASSES"
# Helm values server.progressDeadlineSeconds.onnx and .scikitLearn: the rollout deadline
# of a pipeline that sets no spec.serving.progressDeadlineSeconds, by the runtime that
# serves its candidate (planning.deadline; the arithmetic is in docs/operator.md).
PROGRESS_DEADLINE_ONNX_ENV = "MODELPIPE_PROGRESS_DEADLINE_ONNX"
PROGRESS_DEADLINE_SKLEARN_ENV = "MODELPIPE_PROGRESS_DEADLINE_SKLEARN"
# onnxruntime (docs/operator.md, "Slow to start is not crashing"): its worst start to ready
# measured here was 32 s, in a run where scikit-learn took 142 s (ratio 0.23); scaled to the
# worst scikit-learn start seen (300 s) that is 68 s; plus 30 s the benchmark leaves out
# (pod sandbox, fetch-model, the first readiness probe) is 98 s; x2, as 600 s is for 300 s.
DEFAULT_PROGRESS_DEADLINE_ONNX = 200
# scikit-learn: Kubernetes' own default, twice the worst start seen on a loaded node (300 s).
DEFAULT_PROGRESS_DEADLINE_SKLEARN = 600
# The floor spec.serving.progressDeadlineSeconds has too.
MIN_PROGRESS_DEADLINE = 5


@dataclass(frozen=True)
class OperatorConfig:
    """What the platform configured; the defaults are an unconfigured operator's."""

    trainer_image: str = DEFAULT_TRAINER_IMAGE
    server_image: str | None = None
    priority_classes: frozenset[str] = frozenset()
    kueue: bool = True
    default_queue: str | None = None
    workload_priority_classes: frozenset[str] = frozenset()
    progress_deadline_onnx: int = DEFAULT_PROGRESS_DEADLINE_ONNX
    progress_deadline_sklearn: int = DEFAULT_PROGRESS_DEADLINE_SKLEARN

    @classmethod
    def from_environment(cls, variables: Mapping[str, str]) -> OperatorConfig:
        """The configuration the chart wrote into ``variables``; unset or empty means default.

        Raises ``ValueError`` naming the variable for a value the operator cannot run with.
        """
        return cls(
            trainer_image=variables.get(TRAINER_IMAGE_ENV) or DEFAULT_TRAINER_IMAGE,
            server_image=variables.get(SERVER_IMAGE_ENV) or None,
            priority_classes=frozenset(
                filter(None, variables.get(PRIORITY_CLASSES_ENV, "").split(","))
            ),
            kueue=variables.get(KUEUE_ENV, "true").strip().lower() != "false",
            default_queue=variables.get(KUEUE_DEFAULT_QUEUE_ENV) or None,
            workload_priority_classes=frozenset(
                filter(None, variables.get(KUEUE_PRIORITY_CLASSES_ENV, "").split(","))
            ),
            progress_deadline_onnx=_seconds(
                variables, PROGRESS_DEADLINE_ONNX_ENV, DEFAULT_PROGRESS_DEADLINE_ONNX
            ),
            progress_deadline_sklearn=_seconds(
                variables, PROGRESS_DEADLINE_SKLEARN_ENV, DEFAULT_PROGRESS_DEADLINE_SKLEARN
            ),
        )


def _seconds(variables: Mapping[str, str], name: str, default: int) -> int:
    text = variables.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if seconds < MIN_PROGRESS_DEADLINE:
        raise ValueError(
            f"{name}={text!r} is not a rollout deadline: give whole seconds, at least "
            f"{MIN_PROGRESS_DEADLINE} (Helm values server.progressDeadlineSeconds)"
        )
    return seconds


UNCONFIGURED = OperatorConfig()


def config_in(context: object) -> OperatorConfig:
    """The configuration a spec is parsed with (pydantic's validation context)."""
    return context if isinstance(context, OperatorConfig) else UNCONFIGURED
