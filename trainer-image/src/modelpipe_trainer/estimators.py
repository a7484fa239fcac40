"""Resolving the configured estimator: import path, allowlist, params, seed.

Importing a class named in a config runs that module's code, so the import path
must start with an allowed prefix (``sklearn.`` unless the config widens it), or be
one of the boosting estimators the contract names (XGBoost's and LightGBM's
scikit-learn interfaces), before anything is imported. The estimator is then
constructed and its params checked against scikit-learn's own constraints, so a
typo costs a second, not a training run. The boosting estimators take any keyword
(their library's native params), so a name that is not a constructor param but
close to one is refused as a typo.
"""

from __future__ import annotations

import difflib
import importlib
import logging

from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import (
    BOOSTING_ESTIMATORS,
    EstimatorSpec,
    Task,
    is_accepted_estimator,
)
from sklearn.base import BaseEstimator, is_classifier, is_regressor

from modelpipe_trainer.errors import TrainerError, failure


def build_estimator(spec: EstimatorSpec, *, task: Task, seed: int) -> BaseEstimator:
    """A fresh, unfitted estimator with the params and seed applied; or ``INVALID_CONFIG``."""
    cls = resolve_estimator_class(spec.class_path, allowed_prefixes=spec.allowed_prefixes)
    try:
        estimator = cls(**spec.params)
    except TypeError as exc:
        raise _bad_params(spec.class_path, _unknown_param_hint(cls, spec, exc)) from None
    _check_task(estimator, spec.class_path, task)
    typos = _likely_typos(cls, spec)
    if typos:
        raise _bad_params(spec.class_path, typos)
    if "random_state" in estimator.get_params(deep=False) and "random_state" not in spec.params:
        estimator.set_params(random_state=seed)
    validate = getattr(estimator, "_validate_params", None)
    # Only scikit-learn's own estimators declare constraints; XGBoost and LightGBM inherit
    # the validator without them, and it would raise AttributeError.
    if callable(validate) and hasattr(estimator, "_parameter_constraints"):
        # scikit-learn checks param values only in fit(); its validator is private
        # but stable since 1.2, and asking it now saves a wasted training run.
        try:
            validate()
        except (TypeError, ValueError) as exc:
            raise _bad_params(spec.class_path, str(exc)) from None
    return estimator


def resolve_estimator_class(class_path: str, *, allowed_prefixes: list[str]) -> type[BaseEstimator]:
    """Import the class named by ``class_path`` if an allowed prefix permits it."""
    if not is_accepted_estimator(class_path, allowed_prefixes):
        raise _unknown(
            class_path,
            f"only classes under {', '.join(allowed_prefixes)} and "
            f"{', '.join(BOOSTING_ESTIMATORS)} may be used "
            "(widen estimator.allowedPrefixes to allow others)",
        )
    module_name, _, attr = class_path.rpartition(".")
    if not module_name:
        raise _unknown(class_path, "give the full import path, e.g. sklearn.svm.SVC")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise _unknown(class_path, f"there is no module {module_name!r}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise _unknown(
            class_path, f"module {module_name!r} has no {attr!r}{_suggest(module, attr)}"
        )
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise _unknown(class_path, "it is not a scikit-learn estimator class")
    _route_library_log(cls)
    return cls


def _route_library_log(cls: type[BaseEstimator]) -> None:
    """LightGBM prints its log to stdout, where the trainer writes only its result line;
    send it to the trainer's log (stderr and train.log) instead."""
    if cls.__module__.startswith("lightgbm."):
        import lightgbm

        lightgbm.register_logger(logging.getLogger("lightgbm"))


def _check_task(estimator: BaseEstimator, class_path: str, task: Task) -> None:
    fits = is_classifier(estimator) if task is Task.CLASSIFICATION else is_regressor(estimator)
    if not fits:
        kind = "classifier" if task is Task.CLASSIFICATION else "regressor"
        raise _unknown(class_path, f"it is not a {kind}, but the task is {task.value}")


def _unknown_param_hint(cls: type[BaseEstimator], spec: EstimatorSpec, exc: TypeError) -> str:
    valid = sorted(cls().get_params(deep=False)) if _constructible(cls) else []
    unknown = [name for name in spec.params if valid and name not in valid]
    if not unknown:
        return str(exc)
    hints = [f"{name!r}{_close(name, valid)}" for name in unknown]
    return f"unknown params {', '.join(hints)}; valid params are {', '.join(valid)}"


def _likely_typos(cls: type[BaseEstimator], spec: EstimatorSpec) -> str:
    """Unknown params that look like misspelt constructor params, for estimators whose
    ``**kwargs`` would otherwise take them silently; empty when there are none."""
    if not _constructible(cls):
        return ""
    valid = sorted(cls().get_params(deep=False))
    # A high cutoff: native names such as LightGBM's lambda_l1 must still pass.
    close = {name: _close(name, valid, cutoff=0.85) for name in spec.params if name not in valid}
    hints = [f"{name!r}{hint}" for name, hint in close.items() if hint]
    return f"unknown params {', '.join(hints)}" if hints else ""


def _constructible(cls: type[BaseEstimator]) -> bool:
    try:
        cls()
    except TypeError:
        return False
    return True


def _close(name: str, valid: list[str], *, cutoff: float = 0.6) -> str:
    match = difflib.get_close_matches(name, valid, n=1, cutoff=cutoff)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _suggest(module: object, attr: str) -> str:
    names = [n for n in dir(module) if not n.startswith("_")]
    return _close(attr, names)


def _unknown(class_path: str, why: str) -> TrainerError:
    return TrainerError(
        Outcome.INVALID_CONFIG,
        f"unknown estimator {class_path!r}",
        [failure("estimator", f"{class_path}: {why}", "estimator.className")],
    )


def _bad_params(class_path: str, why: str) -> TrainerError:
    return TrainerError(
        Outcome.INVALID_CONFIG,
        f"bad params for {class_path}",
        [failure("estimator_params", why, "estimator.params")],
    )
