"""Validation throughput: modelpipe's checks against pandera checking the same rules.

    python benchmarks/trainer/bench_validation.py               # 200k rows (quick)
    python benchmarks/trainer/bench_validation.py --rows 1000000

Both get the same raw 20-column frame and the same rules: numeric coercion,
min/max, maximum null fraction, allowed values, target present and non-null,
at least two classes; both collect every failure (pandera ``lazy=True``).
Figure: throughput as a ratio to pandera (anchor), measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
import pandera.pandas as pa
from modelpipe_contract.runconfig import RunConfig
from synthetic import CATEGORICAL, NUMERIC, TARGET, make_frame, run_config

from modelpipe_trainer.checks import check_dataset


def pandera_schema(config: RunConfig) -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {}
    for spec in config.data_schema.features:
        null_limit = spec.max_null_fraction
        null_check = pa.Check(
            lambda s, limit=null_limit: s.isna().mean() <= limit, name="max_null_fraction"
        )
        if spec.name in NUMERIC:
            checks = [pa.Check.ge(spec.minimum), pa.Check.le(spec.maximum), null_check]
            columns[spec.name] = pa.Column(float, checks=checks, nullable=True, coerce=True)
        else:
            checks = [pa.Check.isin(spec.allowed_values), null_check]
            columns[spec.name] = pa.Column(str, checks=checks, nullable=True, coerce=True)
    classes = pa.Check(lambda s: s.nunique() >= 2, name="two_classes")
    columns[TARGET] = pa.Column(str, checks=[classes], nullable=False)
    return pa.DataFrameSchema(columns, strict=False)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frame = make_frame(args.rows)
    frame[CATEGORICAL] = frame[CATEGORICAL].astype("str")
    config = RunConfig.model_validate(run_config(Path("unused.csv"), Path("unused")))
    schema = pandera_schema(config)

    def ours() -> None:
        checked = check_dataset(frame, schema=config.data_schema, task=config.task)
        assert checked.failures == [], checked.failures

    def anchor() -> None:
        schema.validate(frame, lazy=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anchor_s = best_of(args.repeats, anchor)
        ours_s = best_of(args.repeats, ours)
    print(f"validation of {args.rows:,} rows x {frame.shape[1]} columns (best of {args.repeats})")
    print(f"  pandera (anchor)  {anchor_s:8.3f} s  {args.rows / anchor_s:12,.0f} rows/s")
    print(f"  modelpipe         {ours_s:8.3f} s  {args.rows / ours_s:12,.0f} rows/s")
    print(f"  throughput ratio modelpipe/pandera: {anchor_s / ours_s:.2f}x")
    pd.set_option("display.width", 120)


if __name__ == "__main__":
    main()
