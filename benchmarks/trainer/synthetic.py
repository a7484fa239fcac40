"""Shared by the trainer benchmarks: a synthetic 20-column dataset and its run config."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

NUMERIC = [f"x{i:02d}" for i in range(16)]
CATEGORICAL = ["colour", "size", "region"]
TARGET = "label"
COLOURS, SIZES, REGIONS = ["red", "green", "blue"], ["s", "m", "l", "xl"], ["eu", "us", "apac"]


def make_frame(rows: int, *, seed: int = 0) -> pd.DataFrame:
    """``rows`` x 20 columns: 16 numeric (1% nulls), 3 categorical, a 3-class target."""
    x, y = make_classification(
        n_samples=rows, n_features=16, n_informative=8, n_classes=3, random_state=seed
    )
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(x, columns=NUMERIC)
    frame[rng.random(frame.shape) < 0.01] = np.nan
    frame["colour"] = rng.choice(COLOURS, rows)
    frame["size"] = rng.choice(SIZES, rows)
    frame["region"] = rng.choice(REGIONS, rows)
    frame[TARGET] = np.array(["a", "b", "c"])[y]
    return frame


def run_config(data: Path, artifacts: Path, *, version: str = "bench") -> dict[str, Any]:
    features: list[dict[str, Any]] = [
        {"name": n, "min": -50, "max": 50, "maxNullFraction": 0.05} for n in NUMERIC
    ]
    features += [
        {"name": "colour", "kind": "categorical", "allowedValues": COLOURS},
        {"name": "size", "kind": "categorical", "allowedValues": SIZES},
        {"name": "region", "kind": "categorical", "allowedValues": REGIONS},
    ]
    return {
        "pipeline": "bench",
        "modelVersion": version,
        "dataset": {"uri": str(data), "version": "1"},
        "schema": {"target": TARGET, "features": features, "minRows": 10},
        "estimator": {
            "className": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 200},
        },
        "seed": 1,
        "artifactsDir": str(artifacts),
        "terminationMessagePath": str(artifacts / "termination-log"),
    }


def run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run a process; return (wall seconds, its own peak RSS in MiB) via wait4."""
    start = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(
            f"{args[:3]} exited {process.returncode}: {process.stderr.read()[-2000:]!r}"
        )
    return wall, usage.ru_maxrss // 1024


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered) * 1000, p99 * 1000
