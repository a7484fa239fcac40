"""Which types a model file may contain: the allowlist skops loads against.

skops refuses to build any type it does not trust by default. Its defaults cover
scikit-learn's public estimators, numpy and builtins; a fitted Pipeline also
holds a few of scikit-learn's *internal* types (a tree's node arrays, a kernel,
an optimizer). Passing ``trusted=True`` would let a tampered file build anything,
so instead each type the file names is decided on here:

- an explicitly vetted type (below): scikit-learn internals, and the estimators and
  boosters of XGBoost and LightGBM, or
- a class inside scikit-learn that subclasses one of scikit-learn's own bases for
  fitted state (estimators, losses, kernels, optimizers, distance metrics), or
- a class under a prefix the pipeline's config explicitly allowed.

Anything else (a function such as ``builtins.exec``, a class outside
scikit-learn) is refused. Only names that start with ``sklearn.`` are imported
to inspect them, so a file cannot make us import a module of its choosing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence

# Types outside scikit-learn's bases that fitted pipelines hold and that are not subclasses of the
# bases below; found by fitting every scikit-learn estimator and listing what
# skops did not trust (see tests/test_trust.py).
VETTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.calibration._CalibratedClassifier",
        # The boosting estimators the contract accepts (BOOSTING_ESTIMATORS) and their
        # boosters. skops stores a booster through its __getstate__, which is the
        # library's own model format (XGBoost's UBJSON bytes, LightGBM's model text), and
        # rebuilds it with the library's loader: no pickle. LightGBM keeps its params in
        # an OrderedDict.
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "xgboost.core.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.basic.Booster",
        "collections.OrderedDict",
        # The trainer's wrapper giving XGBoost's classifier coded labels (labels.py): a
        # LabelEncoder and the wrapped estimator, nothing else.
        "modelpipe_trainer.labels.LabelEncodedClassifier",
    }
)

_SKLEARN_BASES = (
    ("sklearn.base", "BaseEstimator"),
    ("sklearn._loss.loss", "BaseLoss"),
    ("sklearn.gaussian_process.kernels", "Kernel"),
    ("sklearn.neural_network._stochastic_optimizers", "BaseOptimizer"),
    ("sklearn.metrics._dist_metrics", "DistanceMetric"),
)


def refused_types(names: Iterable[str], *, extra_prefixes: Sequence[str] = ()) -> list[str]:
    """The type names that are not on the allowlist, sorted; empty means loadable."""
    return sorted(
        name for name in set(names) if not is_trusted(name, extra_prefixes=extra_prefixes)
    )


def is_trusted(name: str, *, extra_prefixes: Sequence[str] = ()) -> bool:
    if name in VETTED_TYPES:
        return True
    if any(name.startswith(prefix) for prefix in extra_prefixes):
        return True
    if not name.startswith("sklearn."):
        return False
    return _is_sklearn_state_class(name)


def _is_sklearn_state_class(name: str) -> bool:
    module_name, _, attr = name.rpartition(".")
    try:
        candidate = getattr(importlib.import_module(module_name), attr, None)
    except ImportError:
        return False
    if not isinstance(candidate, type):
        return False
    return any(issubclass(candidate, base) for base in _bases())


def _bases() -> list[type]:
    bases = []
    for module_name, attr in _SKLEARN_BASES:
        base = getattr(importlib.import_module(module_name), attr, None)
        if isinstance(base, type):
            bases.append(base)
    return bases
