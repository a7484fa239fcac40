"""``spec.training``: the estimator and the training Job's runtime settings."""

from __future__ import annotations

import json
from typing import Any

from modelpipe_contract.runconfig import (
    BOOSTING_ESTIMATORS,
    DEFAULT_ALLOWED_PREFIXES,
    Task,
    is_accepted_estimator,
)
from pydantic import Field, ValidationInfo, field_validator, model_validator

from modelpipe.api.config import config_in
from modelpipe.api.v1alpha1._base import OBJECT_NAME_PATTERN, SpecModel, cel, validations
from modelpipe.api.v1alpha1.params import MAX_DEPTH, MAX_PARAMS, params_problem
from modelpipe.api.v1alpha1.pods import PodPlacement, listed_only
from modelpipe.api.v1alpha1.resources import Resources

ESTIMATOR_MESSAGE = (
    "estimator.className must be a scikit-learn class path such as "
    f"sklearn.linear_model.LogisticRegression, or one of {', '.join(BOOSTING_ESTIMATORS)}"
)
_ACCEPTED_RULE = " || ".join(
    [f"self.startsWith('{p}')" for p in DEFAULT_ALLOWED_PREFIXES]
    + [f"self in {json.dumps(list(BOOSTING_ESTIMATORS))}"]
)


class Estimator(SpecModel):
    """An estimator class (scikit-learn, XGBoost or LightGBM) and its constructor parameters."""

    class_name: str = Field(
        min_length=1,
        max_length=256,
        description="Import path, e.g. sklearn.linear_model.LogisticRegression or "
        "xgboost.XGBClassifier.",
        json_schema_extra=validations(cel(_ACCEPTED_RULE, ESTIMATOR_MESSAGE)),
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Constructor keyword arguments: numbers, strings, booleans, and lists or "
        f"maps of them nested at most {MAX_DEPTH} levels deep.",
        json_schema_extra={"maxProperties": MAX_PARAMS},
    )

    @field_validator("class_name")
    @classmethod
    def _accepted(cls, class_name: str) -> str:
        if not is_accepted_estimator(class_name):
            raise ValueError(ESTIMATOR_MESSAGE)
        return class_name

    @field_validator("params")
    @classmethod
    def _bounded(cls, params: dict[str, Any]) -> dict[str, Any]:
        problem = params_problem(params)
        if problem:
            raise ValueError(problem)
        return params


class TrainingSpec(PodPlacement):
    """How to train: the estimator and the Job's runtime settings (placement included)."""

    estimator: Estimator
    task: Task = Field(default=Task.CLASSIFICATION, description="classification or regression.")
    seed: int = Field(default=0, ge=0, description="Random seed for the split and the estimator.")
    test_split: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Holdout fraction, between 0 and 1 exclusive."
    )
    resources: Resources | None = Field(
        default=None, description="Compute resources of the training (train) container."
    )
    backoff_limit: int = Field(default=1, ge=0, le=10, description="Retries of a crashed trainer.")
    priority: int = Field(
        default=0,
        ge=-1000,
        le=1000,
        description=(
            "Place in the training queue when the operator limits concurrent training Jobs: "
            "higher starts first. Not an input: changing it retrains nothing."
        ),
    )
    # Omitted, it is the platform's default LocalQueue if one is configured (_queue).
    queue_name: str | None = Field(
        default=None,
        validate_default=True,
        max_length=63,
        pattern=OBJECT_NAME_PATTERN,
        description=(
            "A Kueue LocalQueue in the pipeline's namespace: training Jobs are created "
            "suspended with the label kueue.x-k8s.io/queue-name and Kueue admits them; the "
            "operator's own training queue does not hold them. Defaults to the operator's "
            "default queue (Helm value kueue.defaultQueue), if set. Not an input."
        ),
    )
    workload_priority_class_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description=(
            "Kueue WorkloadPriorityClass of the training Job (with a queueName): only one "
            "the platform allows (Helm value kueue.priorityClassNames), since a higher "
            "priority preempts other teams' workloads. Not an input."
        ),
    )
    active_deadline_seconds: int = Field(
        default=3600, ge=1, description="Wall-clock limit of a run."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Delete finished Jobs after this long; kept by default."
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="Service account of the training pod.",
    )

    @field_validator("queue_name", mode="before")
    @classmethod
    def _queue(cls, name: object, info: ValidationInfo) -> object:
        """The platform's default LocalQueue when none is named; none at all without Kueue."""
        config = config_in(info.context)
        if not config.kueue:
            if name is not None:
                raise ValueError(
                    f"queueName {name}: this operator runs without Kueue (Helm value "
                    "kueue.enabled=false), so no training Job could be admitted through it; "
                    "remove spec.training.queueName, or ask the platform admin to enable Kueue"
                )
            return None
        return config.default_queue if name is None else name

    @field_validator("workload_priority_class_name")
    @classmethod
    def _allowed_workload_class(cls, name: str | None, info: ValidationInfo) -> str | None:
        """Only the WorkloadPriorityClasses the operator's configuration lists."""
        allowed = config_in(info.context).workload_priority_classes
        return listed_only(
            name, allowed, field="workloadPriorityClassName", value="kueue.priorityClassNames"
        )

    @model_validator(mode="after")
    def _queued_for_priority(self) -> TrainingSpec:
        """A WorkloadPriorityClass means something only to Kueue: it needs a queue."""
        if self.workload_priority_class_name is not None and self.queue_name is None:
            raise ValueError(
                "workloadPriorityClassName needs a Kueue queue: set spec.training.queueName "
                "(or ask for the operator's default queue, Helm value kueue.defaultQueue)"
            )
        return self
