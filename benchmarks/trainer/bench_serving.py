"""``modelpipe-trainer serve``: latency and requests/s against the same model in-process.

    python benchmarks/trainer/bench_serving.py                 # 300 requests per case
    python benchmarks/trainer/bench_serving.py --requests 2000

The anchor is ``model.predict`` on a DataFrame of the same rows, called in this
process: no HTTP, no JSON, no validation. The ratio is the server's overhead.
Requests are sent one at a time over a keep-alive connection (latency), then
from --clients threads at once (throughput). Client and server share the
machine's cores, so on a 2-core machine the concurrent figure is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import pandas as pd
from modelpipe_contract.runconfig import RunConfig
from synthetic import TARGET, make_frame, percentiles, run_config

from modelpipe_trainer import training
from modelpipe_trainer.bundle import load_bundle

HOST = "127.0.0.1"


def train_model(workdir: Path, *, estimator: str | None = None) -> Path:
    """The synthetic model (LogisticRegression unless ``estimator`` names another class)."""
    make_frame(5_000).to_csv(workdir / "data.csv", index=False)
    document = run_config(workdir / "data.csv", workdir / "artifacts")
    if estimator is not None:
        document["estimator"] = {"className": estimator}
    config = RunConfig.model_validate(document)
    result = training.train(config)
    assert result.artifact_path, result.message
    return Path(result.artifact_path)


def start_server(
    model_dir: Path, port: int, *, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "POD_IP": HOST}
    env |= extra_env or {}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelpipe_trainer", "serve"], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600  # a shared machine can take minutes (bench_serving_startup)
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{HOST}:{port}/v2/health/ready", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not become ready in 600 s")


def timed_calls(call: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def report(label: str, samples: list[float], anchor: list[float]) -> None:
    p50, p99 = percentiles(samples)
    a50, a99 = percentiles(anchor)
    rps, anchor_rps = len(samples) / sum(samples), len(anchor) / sum(anchor)
    print(f"  {label}")
    print(
        f"    in-process predict (anchor)  p50 {a50:7.2f} ms  p99 {a99:7.2f} ms"
        f"  {anchor_rps:8,.0f} calls/s"
    )
    print(
        f"    server, sequential           p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rps:8,.0f} req/s"
    )
    print(
        f"    ratio server/anchor: p50 {p50 / a50:.1f}x, p99 {p99 / a99:.1f}x,"
        f" throughput {rps / anchor_rps:.2f}x"
    )


def concurrent_rps(url: str, body: dict[str, Any], *, clients: int, count: int) -> float:
    with httpx.Client(timeout=30) as client:

        def one(_: int) -> None:
            client.post(url, json=body).raise_for_status()

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(count)))
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        model_dir = train_model(Path(tmp))
        model = load_bundle(model_dir).model
        rows = make_frame(100, seed=5).drop(columns=TARGET)
        server = start_server(model_dir, args.port)
        url = f"http://{HOST}:{args.port}/predict"
        try:
            print(
                "serving a 20-column LogisticRegression pipeline,"
                f" {args.requests} requests per case"
            )
            with httpx.Client(timeout=30) as client:
                for size in (1, 100):
                    frame = rows.head(size)
                    records = json.loads(frame.to_json(orient="records"))
                    body = {"instances": records}
                    anchor = timed_calls(
                        lambda f=frame: model.predict(pd.DataFrame(f)), args.requests
                    )
                    served = timed_calls(
                        lambda b=body: client.post(url, json=b).raise_for_status(), args.requests
                    )
                    report(f"{size}-row requests", served, anchor)
                    rps = concurrent_rps(url, body, clients=args.clients, count=args.requests)
                    print(f"    server, {args.clients} concurrent clients: {rps:8,.0f} req/s")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
