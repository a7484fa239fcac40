"""The ONNX fast path against the scikit-learn path: latency, throughput, start-up, conversion cost.

    python benchmarks/trainer/bench_serving_onnx.py                # 500 requests per case
    python benchmarks/trainer/bench_serving_onnx.py --requests 2000

Each model (the 20-column pipeline of ``bench_serving.py`` with LogisticRegression,
then with a 100-tree RandomForestClassifier; ``--estimator`` picks others) is
trained once; ``serve --runtime onnx`` and ``serve --runtime sklearn`` serve the
same directory in turn. For each: the time from exec to the first ready probe,
then 1-row and 100-row ``/predict`` requests one at a time over a keep-alive
connection (p50/p99, req/s) and from --clients threads at once (req/s). Client
and server share the machine's cores, so on 2 cores the concurrent figure is a
lower bound. Issue 17's goals: 1-row p50 <= 1 ms, >= 1000 req/s with 4 clients.
The conversion and verification time is printed as a ratio of the fit time.

MLServer is not measured: mlserver-sklearn loads models only with joblib, which
is pickle, and this project writes and loads no pickle.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_serving import HOST, concurrent_rps, timed_calls, train_model
from synthetic import TARGET, make_frame, percentiles

from modelpipe_trainer.documents import Lineage

ESTIMATORS = ["sklearn.linear_model.LogisticRegression", "sklearn.ensemble.RandomForestClassifier"]


def start(model_dir: Path, port: int, runtime: str) -> tuple[subprocess.Popen[bytes], float]:
    """The server process and its seconds from exec to the first ready answer."""
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "POD_IP": HOST}
    argv = [sys.executable, "-m", "modelpipe_trainer", "serve", "--runtime", runtime]
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://{HOST}:{port}/v2/health/ready", timeout=1).raise_for_status()
            return process, time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"the {runtime} server did not become ready")


def measure(model_dir: Path, runtime: str, args: argparse.Namespace) -> None:
    process, ready = start(model_dir, args.port, runtime)
    url = f"http://{HOST}:{args.port}/predict"
    rows = make_frame(100, seed=5).drop(columns=TARGET)
    print(f"  {runtime:8} start to ready {ready:6.2f} s")
    try:
        with httpx.Client(timeout=30) as client:
            for size in (1, 100):
                body = {"instances": json.loads(rows.head(size).to_json(orient="records"))}
                timed_calls(lambda b=body: client.post(url, json=b), 20)  # warm up
                samples = timed_calls(
                    lambda b=body: client.post(url, json=b).raise_for_status(), args.requests
                )
                p50, p99 = percentiles(samples)
                rps = concurrent_rps(url, body, clients=args.clients, count=args.requests)
                print(
                    f"  {runtime:8} {size:3}-row  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                    f"  {len(samples) / sum(samples):7,.0f} req/s sequential"
                    f"  {rps:7,.0f} req/s with {args.clients} clients"
                )
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=18932)
    parser.add_argument("--estimator", action="append", help="a class path; repeatable")
    args = parser.parse_args()
    for estimator in args.estimator or ESTIMATORS:
        with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
            model_dir = train_model(Path(tmp), estimator=estimator)
            record = Lineage.model_validate_json((model_dir / "lineage.json").read_bytes()).onnx
            assert record is not None and record.verified, record
            print(f"serving the 20-column {estimator} pipeline, {args.requests} requests per case")
            print(
                f"  conversion and verification {record.seconds:.2f} s,"
                f" fit {record.fit_seconds:.2f} s:"
                f" {record.seconds / max(record.fit_seconds, 1e-3):.1f}x the fit time"
                f" (max difference {record.max_difference:.2g} on {record.rows} rows)"
            )
            for runtime in ("onnx", "sklearn"):
                measure(model_dir, runtime, args)


if __name__ == "__main__":
    main()
