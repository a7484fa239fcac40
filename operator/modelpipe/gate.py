"""The promotion gate: thresholds plus an optional champion comparison.

Pure: metrics in, a check table out. A metric that is missing or NaN never passes,
and the champion comparison uses each metric's own direction from the trainer contract.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from modelpipe_contract.result import HIGHER_IS_BETTER
from modelpipe_contract.result import Significance as Tested

from modelpipe.api.v1alpha1 import GateCheck
from modelpipe.api.v1alpha1.spec import Champion, EvaluationSpec, Significance, Threshold


def evaluate(
    *,
    evaluation: EvaluationSpec,
    metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    champion_expected: bool = False,
    significance: Tested | None = None,
) -> list[GateCheck]:
    """Every check of the gate, passed or not, in spec order.

    ``champion_expected`` says a production model existed when the run started, so
    missing champion metrics are a failure rather than "no production model yet".
    """
    checks = [check_threshold(t, metrics.get(t.metric)) for t in evaluation.thresholds]
    champion = evaluation.champion
    if champion is not None:
        if champion_expected and champion_metrics is None:
            champion_metrics = {}
        checks.append(check_champion(champion, metrics, champion_metrics))
    if champion is not None and champion.significance is not None:
        compared = champion_metrics is not None
        checks.append(check_significance(champion.significance, significance, compared=compared))
    return checks


def passed(checks: list[GateCheck]) -> bool:
    return all(c.passed for c in checks)


def failing_summary(checks: list[GateCheck]) -> str:
    """One line naming each failed check with its value, e.g. ``accuracy=0.61 (needs >= 0.9)``."""
    parts = [_failed(c) for c in checks if not c.passed]
    return "; ".join(parts)


def check_threshold(threshold: Threshold, value: float | None) -> GateCheck:
    bounds = []
    if threshold.min is not None:
        bounds.append(f">= {threshold.min:g}")
    if threshold.max is not None:
        bounds.append(f"<= {threshold.max:g}")
    bound = " and ".join(bounds)
    if not _usable(value):
        return GateCheck(
            gate="threshold",
            metric=threshold.metric,
            bound=bound,
            value=None,
            passed=False,
            message=_missing(threshold.metric, value),
        )
    assert value is not None
    ok = (threshold.min is None or value >= threshold.min) and (
        threshold.max is None or value <= threshold.max
    )
    return GateCheck(gate="threshold", metric=threshold.metric, bound=bound, value=value, passed=ok)


def check_champion(
    champion: Champion,
    metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
) -> GateCheck:
    higher = HIGHER_IS_BETTER.get(champion.metric, True)
    sign = ">=" if higher else "<="
    delta = (
        f" {'+' if higher else '-'} {champion.min_improvement:g}"
        if champion.min_improvement
        else ""
    )
    bound = f"{sign} champion{delta}"
    value = metrics.get(champion.metric)
    if champion_metrics is None:
        ok = _usable(value)
        return GateCheck(
            gate="champion",
            metric=champion.metric,
            bound=bound,
            value=value if ok else None,
            passed=ok,
            message="no production model yet" if ok else _missing(champion.metric, value),
        )
    best = champion_metrics.get(champion.metric)
    if not _usable(value) or not _usable(best):
        return GateCheck(
            gate="champion",
            metric=champion.metric,
            bound=bound,
            value=value if _usable(value) else None,
            passed=False,
            message="candidate or champion value missing or NaN",
        )
    assert value is not None and best is not None
    need = best + champion.min_improvement if higher else best - champion.min_improvement
    ok = value >= need if higher else value <= need
    return GateCheck(
        gate="champion",
        metric=champion.metric,
        bound=f"{sign} {need:g} ({bound})",
        value=value,
        passed=ok,
        message=f"champion {champion.metric}={best:g}",
    )


def check_significance(spec: Significance, tested: Tested | None, *, compared: bool) -> GateCheck:
    """The trainer's one-sided test (docs/trainer.md) against ``alpha``: p < alpha passes."""
    bound = f"p < {spec.alpha:g} ({spec.test})"
    if not compared:
        return GateCheck(
            gate="significance",
            metric="",
            bound=bound,
            passed=True,
            message="no production model yet",
        )
    if tested is None or math.isnan(tested.p_value):
        return GateCheck(
            gate="significance",
            metric="",
            bound=bound,
            passed=False,
            message="the trainer reported no significance test against the champion",
        )
    low, high = tested.interval
    return GateCheck(
        gate="significance",
        metric=tested.metric,
        bound=bound,
        value=tested.improvement,
        passed=tested.p_value < spec.alpha,
        message=f"{tested.test}: improvement {tested.improvement:+.4g} over the champion, "
        f"interval [{low:+.4g}, {high:+.4g}], p={tested.p_value:.3g}",
        p_value=tested.p_value,
        interval=[low, high],
    )


def _usable(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _missing(metric: str, value: float | None) -> str:
    return f"{metric} is NaN" if value is not None else f"{metric} was not reported by the trainer"


def _failed(check: GateCheck) -> str:
    if check.gate == "significance":
        gain = check.metric or "gain"
        return f"{gain} not significant: p={_fmt(check.p_value)} (needs {check.bound})"
    return f"{check.metric}={_fmt(check.value)} (needs {check.bound})"


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"
