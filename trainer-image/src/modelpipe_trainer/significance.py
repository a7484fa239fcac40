"""Is the candidate significantly better than the champion on the same holdout rows?

A gain of 0.003 accuracy on 30 rows is noise; promoting on it swaps models at random.
Both tests are one-sided (H0: the candidate is no better) and pure: the two models'
holdout outputs in, a :class:`~modelpipe_contract.result.Significance` out. The bootstrap
draws its rows from a generator seeded with the run's seed, so a rerun reports the same
p-value and interval.

- ``pairedBootstrap`` (any metric): draw the holdout's rows with replacement ``resamples``
  times, the *same* rows for both models, and compute the improvement (in the metric's
  better direction) on each draw. ``p = (1 + #{improvement <= minImprovement}) /
  (1 + draws)``; the interval is the draws' ``alpha`` and ``1 - alpha`` quantiles. Draws on
  which the metric is undefined (ROC AUC of a draw with one class) are left out.
- ``mcNemar`` (classification): the exact binomial test on the rows where exactly one model
  is right; the improvement is the difference in accuracy, with a normal interval.
  ``minImprovement`` stays with the point comparison.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from modelpipe_contract.result import HIGHER_IS_BETTER, Significance
from modelpipe_contract.runconfig import SignificanceConfig, SignificanceTest
from scipy.stats import binom

from modelpipe_trainer.scoring import MetricError, Outputs, measure


def compare(
    *, candidate: Outputs, champion: Outputs, config: SignificanceConfig, seed: int
) -> Significance:
    """The test the config names; ``MetricError`` when it cannot be computed."""
    if len(candidate.truth) != len(champion.truth):
        raise MetricError("the candidate and the champion were scored on different rows")
    if config.test is SignificanceTest.MCNEMAR:
        return mcnemar(candidate=candidate, champion=champion, alpha=config.alpha)
    return paired_bootstrap(candidate=candidate, champion=champion, config=config, seed=seed)


def paired_bootstrap(
    *, candidate: Outputs, champion: Outputs, config: SignificanceConfig, seed: int
) -> Significance:
    sign = 1.0 if HIGHER_IS_BETTER.get(config.metric, True) else -1.0
    observed = sign * (_metric(candidate, config.metric) - _metric(champion, config.metric))
    if not math.isfinite(observed):
        raise MetricError(f"{config.metric} is undefined on the holdout for one of the models")
    rows = len(candidate.truth)
    draws = np.random.default_rng(seed).integers(0, rows, size=(config.resamples, rows))
    gains = sign * (
        per_draw(candidate, config.metric, draws) - per_draw(champion, config.metric, draws)
    )
    gains = gains[np.isfinite(gains)]
    if len(gains) < config.resamples * (1 - _MAX_UNDEFINED):
        raise MetricError(
            f"{config.metric} was undefined on {config.resamples - len(gains)} of "
            f"{config.resamples} bootstrap draws of {rows} holdout rows (a class too rare in the "
            "holdout): compare on another metric or give a larger evalDataset"
        )
    at_most = int(np.count_nonzero(gains <= config.min_improvement + _TIE))
    low, high = np.quantile(gains, [config.alpha, 1 - config.alpha])
    return Significance(
        test=SignificanceTest.PAIRED_BOOTSTRAP.value,
        metric=config.metric,
        improvement=float(observed),
        p_value=(1 + at_most) / (1 + len(gains)),
        interval=(float(low), float(high)),
        alpha=config.alpha,
        resamples=len(gains),
    )


def mcnemar(*, candidate: Outputs, champion: Outputs, alpha: float) -> Significance:
    ours = candidate.predicted == candidate.truth
    theirs = champion.predicted == champion.truth
    wins = int(np.count_nonzero(ours & ~theirs))
    losses = int(np.count_nonzero(~ours & theirs))
    rows = len(ours)
    discordant = wins + losses
    # P(X >= wins) for X ~ Binomial(discordant, 1/2); no discordant rows: no evidence at all.
    p_value = float(binom.sf(wins - 1, discordant, 0.5)) if discordant else 1.0
    difference = (wins - losses) / rows
    spread = math.sqrt(max(discordant - (wins - losses) ** 2 / rows, 0.0)) / rows
    z = NormalDist().inv_cdf(1 - alpha)
    return Significance(
        test=SignificanceTest.MCNEMAR.value,
        metric="accuracy",
        improvement=difference,
        p_value=p_value,
        interval=(difference - z * spread, difference + z * spread),
        alpha=alpha,
    )


# Floating-point noise: two identical models' metrics can differ in the last bit.
_TIE = 1e-12
# Leaving out more draws than this would bias the interval toward the rows that define it.
_MAX_UNDEFINED = 0.1


def per_draw(outputs: Outputs, name: str, draws: np.ndarray) -> np.ndarray:
    """The metric on each row of ``draws`` (row indices): means of a per-row loss and the
    confusion-count metrics are computed for all draws at once, ROC AUC one sklearn call
    per draw."""
    if name in _FROM_COUNTS:
        return _from_counts(outputs, name, draws)
    losses = _row_losses(outputs, name)
    if losses is None:
        return np.array([_metric(outputs.take(rows), name) for rows in draws])
    means = losses[draws].mean(axis=1)
    if name == "rmse":
        return np.asarray(np.sqrt(means), dtype=float)
    if name == "r2":
        truth = outputs.truth.astype(float)[draws]
        spread = ((truth - truth.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.where(spread > 0, 1 - means / spread, np.nan), dtype=float)
    return np.asarray(means, dtype=float)


_FROM_COUNTS = frozenset({"f1_macro", "precision_macro", "recall_macro", "balanced_accuracy"})


def _from_counts(o: Outputs, name: str, draws: np.ndarray) -> np.ndarray:
    """As sklearn (``zero_division=0``) on each draw, from its confusion counts: the macro
    scores average the labels present in the draw's truth or predictions, balanced accuracy
    the recall of the labels present in its truth."""
    _, codes = np.unique(np.concatenate([o.truth, o.predicted]), return_inverse=True)
    k = int(codes.max()) + 1
    truth, predicted = codes[: len(o.truth)][draws], codes[len(o.truth) :][draws]
    offsets = np.arange(len(draws))[:, None] * k * k
    cells = np.bincount((offsets + truth * k + predicted).ravel(), minlength=len(draws) * k * k)
    counts = cells.reshape(len(draws), k, k).astype(float)
    hits = np.diagonal(counts, axis1=1, axis2=2)
    actual, said = counts.sum(axis=2), counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(actual > 0, hits / actual, 0.0)
        if name == "balanced_accuracy":
            return np.asarray((recall * (actual > 0)).sum(axis=1) / (actual > 0).sum(axis=1))
        per_label = {
            "recall_macro": recall,
            "precision_macro": np.where(said > 0, hits / said, 0.0),
            "f1_macro": np.where(actual + said > 0, 2 * hits / (actual + said), 0.0),
        }[name]
    present = (actual + said) > 0
    return np.asarray((per_label * present).sum(axis=1) / present.sum(axis=1), dtype=float)


def _row_losses(o: Outputs, name: str) -> np.ndarray | None:
    """Per-row values whose mean is the metric (for rmse and r2: squared errors)."""
    if name == "accuracy":
        return np.asarray(o.predicted == o.truth, dtype=float)
    if name in ("rmse", "r2"):
        return np.asarray((o.predicted.astype(float) - o.truth.astype(float)) ** 2, dtype=float)
    if name == "mae":
        return np.asarray(np.abs(o.predicted.astype(float) - o.truth.astype(float)), dtype=float)
    if name == "log_loss" and o.proba is not None:
        # As sklearn's log_loss: probabilities clipped to [eps, 1 - eps], rows renormalised.
        eps = np.finfo(o.proba.dtype).eps
        proba = np.clip(o.proba, eps, 1 - eps)
        proba = proba / proba.sum(axis=1, keepdims=True)
        column = {label: i for i, label in enumerate(o.classes)}
        index = np.array([column[label] for label in o.truth.tolist()])
        return np.asarray(-np.log(proba[np.arange(len(index)), index]), dtype=float)
    return None


def _metric(outputs: Outputs, name: str) -> float:
    return measure(outputs, [name])[name]
