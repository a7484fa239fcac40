"""``modelpipe-trainer train``: wall time and peak RSS, against a bare scikit-learn fit.

    python benchmarks/trainer/bench_train.py                     # 100k rows (quick)
    python benchmarks/trainer/bench_train.py --rows 100000 1000000

Each run is its own process, measured with wait4 (wall time and that process's
peak RSS). The anchor is the minimal program that does the same learning: read
the same CSV with pandas, split it the same way, build the same Pipeline, fit
it. The ratio is the cost of everything the trainer adds: hashing, validation,
the holdout metrics, skops serialization and the atomic write.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import make_frame, run_config, run_measured

ANCHOR = """
import json, sys
import pandas as pd
from sklearn.model_selection import train_test_split
from modelpipe_contract.runconfig import RunConfig
from modelpipe_trainer.estimators import build_estimator
from modelpipe_trainer.modeling import build_pipeline
config = RunConfig.model_validate(json.loads(sys.argv[1]))
frame = pd.read_csv(config.dataset.uri)
target = config.data_schema.target
frame, _ = train_test_split(
    frame, test_size=config.test_size, random_state=config.seed, stratify=frame[target]
)
features = [f.name for f in config.data_schema.features]
estimator = build_estimator(config.estimator, task=config.task, seed=config.seed)
model = build_pipeline(config.data_schema, estimator)
model.fit(frame[features], frame[target])
"""


def measure(rows: int, workdir: Path) -> None:
    data = workdir / f"data-{rows}.csv"
    make_frame(rows).to_csv(data, index=False)
    config = run_config(data, workdir / "artifacts", version=f"r{rows}")
    env = {**os.environ, "MODELPIPE_RUN_CONFIG": json.dumps(config)}
    anchor_s, anchor_mib = run_measured([sys.executable, "-c", ANCHOR, json.dumps(config)])
    train_s, train_mib = run_measured([sys.executable, "-m", "modelpipe_trainer", "train"], env)
    size = data.stat().st_size / 2**20
    print(f"{rows:>9,} rows x 20 columns ({size:,.0f} MiB CSV), LogisticRegression")
    print(f"  bare fit (anchor)   {anchor_s:7.2f} s   peak RSS {anchor_mib:6,} MiB")
    print(f"  modelpipe train     {train_s:7.2f} s   peak RSS {train_mib:6,} MiB")
    print(
        f"  ratio train/anchor: time {train_s / anchor_s:.2f}x,"
        f" peak RSS {train_mib / anchor_mib:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for rows in args.rows:
            measure(rows, Path(tmp))


if __name__ == "__main__":
    main()
