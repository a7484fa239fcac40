"""``spec.evaluation``: the gate a candidate must pass to be promoted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from modelpipe_contract.result import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    REGRESSION_METRICS,
)
from modelpipe_contract.runconfig import MCNEMAR_ON_REGRESSION, SignificanceTest, Task
from pydantic import ConfigDict, Field

from modelpipe.api.v1alpha1._base import SpecModel, cel, validations

KNOWN_METRICS: tuple[str, ...] = tuple(sorted(HIGHER_IS_BETTER))
# The metrics the trainer reports for each task (its contract is the one source).
TASK_METRICS: dict[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: tuple(sorted(CLASSIFICATION_METRICS)),
    Task.REGRESSION: tuple(sorted(REGRESSION_METRICS)),
}
if TYPE_CHECKING:
    MetricName = str
else:
    # An enum in the schema, so `kubectl explain` and the apiserver list the allowed names.
    MetricName = Literal[KNOWN_METRICS]


class Threshold(SpecModel):
    """A bound a candidate's metric must satisfy."""

    metric: MetricName = Field(
        description="Metric name: for classification one of "
        f"{', '.join(TASK_METRICS[Task.CLASSIFICATION])}; for regression one of "
        f"{', '.join(TASK_METRICS[Task.REGRESSION])}."
    )
    min: float | None = Field(default=None, description="Smallest passing value.")
    max: float | None = Field(default=None, description="Largest passing value.")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("has(self.min) || has(self.max)", "each threshold needs min, max or both"),
            cel(
                "!has(self.min) || !has(self.max) || self.min <= self.max",
                "threshold min must be less than or equal to max",
            ),
        )
    )


class Significance(SpecModel):
    """The challenger must beat the champion significantly, on the same holdout rows."""

    test: SignificanceTest = Field(
        default=SignificanceTest.PAIRED_BOOTSTRAP,
        description="pairedBootstrap: resamples the holdout rows (any metric, seeded by "
        "training.seed); mcNemar: exact test on the rows exactly one model gets right "
        "(classification only).",
    )
    alpha: float = Field(
        default=0.05,
        gt=0.0,
        le=0.5,
        description="Largest one-sided p-value that counts as better, e.g. 0.05.",
    )
    resamples: int = Field(
        default=1000, ge=100, le=10000, description="Bootstrap draws (pairedBootstrap only)."
    )


class Champion(SpecModel):
    """Compare the candidate with the production model on the same holdout."""

    metric: MetricName = Field(
        description="Metric compared in its own direction; one the task reports (see "
        "thresholds.metric)."
    )
    min_improvement: float = Field(
        default=0.0,
        ge=0.0,
        description="Required improvement over production; 0 means at least equal.",
    )
    significance: Significance | None = Field(
        default=None,
        description="Also require the gain to be significant; the run's gate table shows its "
        "p-value and the interval of the improvement.",
    )


class EvaluationSpec(SpecModel):
    """The gate: every threshold must pass, and the champion comparison if given."""

    thresholds: list[Threshold] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Bounds on metrics; one entry per metric. Not a training input: changing them "
            "retrains nothing. The model in production is checked against them with the "
            "metrics it was promoted with; if it falls short, Evaluated=False "
            "ProductionBelowThresholds and one Warning event say so, and it keeps serving "
            "until a retrain (modelpipe.io/retrain) or new inputs pass the gate."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["metric"],
        },
    )
    champion: Champion | None = None


def misfit_metrics(evaluation: EvaluationSpec, task: Task) -> list[str]:
    """The metrics the gate names that the task does not report (an accuracy bound on
    a regression, say): such a gate could never pass, so it is refused before a run."""
    named = [t.metric for t in evaluation.thresholds]
    named += [evaluation.champion.metric] if evaluation.champion else []
    return [m for m in named if m not in TASK_METRICS[task]]


def _cel_list(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{n}'" for n in names) + "]"


_REGRESSION = "(has(self.training.task) && self.training.task == 'regression')"
_NAMED = (
    "((has(self.evaluation.thresholds) ? self.evaluation.thresholds.map(t, t.metric) : []) "
    "+ (has(self.evaluation.champion) ? [self.evaluation.champion.metric] : []))"
)


def misfit_test(evaluation: EvaluationSpec, task: Task) -> str | None:
    """Why the significance test cannot judge this task (mcNemar on a regression), or None."""
    significance = evaluation.champion.significance if evaluation.champion else None
    if significance and significance.test is SignificanceTest.MCNEMAR and task is Task.REGRESSION:
        return MCNEMAR_ON_REGRESSION
    return None


def task_fit_rules() -> list[dict[str, Any]]:
    """The CEL twin of :func:`misfit_metrics`, on ``spec`` (it needs training and evaluation):
    one rule per task, each listing the task's metrics. (A messageExpression naming the
    misfit would be nicer; the apiserver's cost estimate for one is 100x its budget.)"""
    rules = []
    for task in Task:
        applies = _REGRESSION if task == Task.REGRESSION else f"!{_REGRESSION}"
        metrics = TASK_METRICS[task]
        fits = f"{_NAMED}.all(m, m in {_cel_list(metrics)})"
        rules.append(
            cel(
                f"!{applies} || !has(self.evaluation) || {fits}",
                f"an evaluation metric does not fit training.task {task}, which reports "
                f"{', '.join(metrics)}",
                field_path=".evaluation",
            )
        )
    test = "self.evaluation.champion.significance.test"
    rules.append(
        cel(
            f"!{_REGRESSION} || !has(self.evaluation) || !has(self.evaluation.champion) "
            f"|| !has(self.evaluation.champion.significance) || !has({test}) "
            f"|| {test} != 'mcNemar'",
            MCNEMAR_ON_REGRESSION,
            field_path=".evaluation.champion.significance.test",
        )
    )
    return rules
