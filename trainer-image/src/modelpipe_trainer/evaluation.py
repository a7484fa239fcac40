"""Scoring on the holdout: the candidate, and the champion on exactly the same rows.

The champion is loaded before anything is fitted, so a tampered or unreadable
production model fails the run early, with a message the operator can show,
instead of after the compute is spent. Both failures are ``TrainingFailed``:
evaluating honestly against production is part of training here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from modelpipe_contract.result import Outcome, Significance
from modelpipe_contract.runconfig import DEFAULT_ALLOWED_PREFIXES, RunConfig, Task
from sklearn.pipeline import Pipeline

from modelpipe_trainer.bundle import load_model
from modelpipe_trainer.documents import MODEL_FILE
from modelpipe_trainer.errors import ModelRejectedError, TrainerError, failure
from modelpipe_trainer.scoring import MetricError, Metrics, Outputs, predict, score_outputs
from modelpipe_trainer.significance import compare


@dataclass(frozen=True)
class Holdout:
    features: pd.DataFrame
    target: pd.Series
    source: str  # "split" or "evalDataset"


@dataclass(frozen=True)
class Scored:
    """A model's metrics on the holdout and the answers they came from (for significance)."""

    metrics: Metrics
    outputs: Outputs


def extra_trusted_prefixes(config: RunConfig) -> list[str]:
    """Prefixes the config explicitly added beyond scikit-learn; their types are trusted too."""
    return [p for p in config.estimator.allowed_prefixes if p not in DEFAULT_ALLOWED_PREFIXES]


def load_champion(config: RunConfig) -> Pipeline:
    """The production model named by ``championPath``, or ``TrainerError(TRAINING_FAILED)``."""
    assert config.champion_path is not None
    path = Path(config.champion_path) / MODEL_FILE
    try:
        return load_model(path, extra_prefixes=extra_trusted_prefixes(config))
    except ModelRejectedError as exc:
        raise TrainerError(
            Outcome.TRAINING_FAILED,
            "the champion model was refused, so the candidate cannot be compared with it",
            [failure("champion_model", str(exc), "championPath")],
        ) from None


def score_candidate(model: Pipeline, holdout: Holdout, *, task: Task) -> Scored:
    try:
        outputs = predict(model, features=holdout.features, target=holdout.target, task=task)
        return Scored(score_outputs(outputs, task=task), outputs)
    except (MetricError, ValueError) as exc:
        raise TrainerError(
            Outcome.TRAINING_FAILED,
            f"the candidate's metrics are unusable: {exc}",
            [failure("metrics", str(exc))],
        ) from None


def score_champion(champion: Pipeline, holdout: Holdout, *, config: RunConfig) -> Scored:
    try:
        task = config.task
        outputs = predict(champion, features=holdout.features, target=holdout.target, task=task)
        return Scored(score_outputs(outputs, task=task), outputs)
    except Exception as exc:  # a champion from another schema can fail anywhere
        raise TrainerError(
            Outcome.TRAINING_FAILED,
            "the champion could not be scored on the holdout",
            [failure("champion_metrics", f"{type(exc).__name__}: {exc}", "championPath")],
        ) from None


def measure_significance(candidate: Scored, champion: Scored, *, config: RunConfig) -> Significance:
    """The significance test the run config asks for, on the rows both were scored on."""
    assert config.significance is not None
    try:
        return compare(
            candidate=candidate.outputs,
            champion=champion.outputs,
            config=config.significance,
            seed=config.seed,
        )
    except MetricError as exc:
        raise TrainerError(
            Outcome.TRAINING_FAILED,
            "the significance of the candidate's gain over the champion could not be computed",
            [failure("significance", str(exc))],
        ) from None
