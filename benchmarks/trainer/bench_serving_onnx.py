"""The ONNX fast path against the scikit-learn path and MLServer: latency, throughput,
start-up, memory, import set, conversion cost.

    python benchmarks/trainer/bench_serving_onnx.py                # 500 requests per case
    python benchmarks/trainer/bench_serving_onnx.py --requests 2000 --no-mlserver

Each model (the 20-column pipeline of ``bench_serving.py`` with LogisticRegression,
then with a 100-tree RandomForestClassifier; ``--estimator`` picks others) is trained
once, and three servers serve that same fitted model in turn:

- ``onnx``: ``serve --runtime onnx`` (the verified ``model.onnx``, onnxruntime);
- ``sklearn``: ``serve --runtime sklearn`` (``model.skops``, scikit-learn);
- ``mlserver``: MLServer 1.7.1 with mlserver-sklearn, installed in a throwaway venv in the
  temp dir with the same scikit-learn, skops and numpy versions (skipped, with the reason,
  if it cannot be installed). mlserver-sklearn loads only joblib (pickle), so its
  ``SKLearnModel`` is subclassed to load the same ``model.skops`` under the trainer's
  allowlist; request parsing, the pandas codec, ``predict`` and encoding are MLServer's
  (``mlserver_venv.py``). Inference runs in its server process (``parallel_workers: 0``).

All three get the same bytes: a V2 ``POST /v2/models/bench/infer`` with one tensor per
feature (FP64, or BYTES with ``content_type: str``), ``content_type: pd`` (MLServer's
pandas codec; ignored by ours) and ``outputs: [predict]``, on rows without nulls (V2 JSON
has no NaN). Their answers are compared before timing. For each: exec to the first ready
probe, then 1-row and 100-row requests one at a time over a keep-alive connection
(p50/p99, req/s; for our servers also the p50 at the server, from its own request
histogram: the issue's 1-row goal is at the server, and httpx adds ~0.25 ms a request
on this machine) and from --clients threads at once (req/s), then resident memory. Client
and server share the machine's cores, so on 2 cores the concurrent figure is a lower
bound. Ratios are against the ONNX path. Issue 17's goals: 1-row p50 <= 1 ms, >= 1000
req/s with 4 clients, ahead of MLServer on every row, start to ready <= 1 s.

Then, once: what each of our servers imports (``python -X importtime``), the installed size
of the distributions that is, against the image's whole runtime venv
(``requirements.lock``), and the trainer image's archive size when ``make images`` built it.
The conversion and verification time is printed as a ratio of the fit time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import footprint
import httpx
import mlserver_venv
import pandas as pd
from bench_serving import HOST, concurrent_rps, timed_calls, train_model
from prometheus_client.parser import text_string_to_metric_families
from synthetic import CATEGORICAL, TARGET, make_frame, percentiles

from modelpipe.planning.analysis import quantile_ms
from modelpipe_trainer.documents import Lineage

ESTIMATORS = ["sklearn.linear_model.LogisticRegression", "sklearn.ensemble.RandomForestClassifier"]
ROOT = Path(__file__).resolve().parents[2]
PINS = ("scikit-learn", "skops", "numpy")
Row = tuple[float, float, float, float]  # p50 ms, p99 ms, req/s sequential, req/s concurrent
Buckets = dict[float, float]  # upper bound -> cumulative count
LATENCY = "modelpipe_request_duration_seconds"


def infer_buckets(client: httpx.Client, base: str) -> Buckets | None:
    """Our server's own latency histogram of V2 inference (None: not our server)."""
    answer = client.get(f"{base}/metrics")
    if answer.status_code != 200 or LATENCY.encode() not in answer.content:
        return None
    found: Buckets = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == f"{LATENCY}_bucket" and sample.labels.get("endpoint") == "infer":
                found[float(sample.labels["le"])] = sample.value
    return found


def server_p50(before: Buckets | None, after: Buckets | None) -> float | None:
    """The median in ms of the requests between two scrapes, as the server timed them
    (from its request in to its response out, HTTP parsing by uvicorn aside)."""
    if before is None or after is None:
        return None
    window = tuple((bound, after[bound] - before.get(bound, 0.0)) for bound in sorted(after))
    return quantile_ms(window, 0.5)


def v2_body(rows: pd.DataFrame) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = []
    for name in rows.columns:
        text = name in CATEGORICAL
        tensor: dict[str, Any] = {
            "name": name,
            "shape": [len(rows)],
            "datatype": "BYTES" if text else "FP64",
            "data": rows[name].tolist(),
        }
        if text:
            tensor["parameters"] = {"content_type": "str"}
        inputs.append(tensor)
    return {
        "inputs": inputs,
        "parameters": {"content_type": "pd"},
        "outputs": [{"name": "predict"}],
    }


@contextmanager
def serving(
    argv: list[str], env: dict[str, str], port: int, *, stderr: Any = subprocess.DEVNULL
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """The server process and its seconds from exec to ready; always stopped on exit."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        ready = f"http://{HOST}:{port}/v2/models/bench/ready"
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[:4]} did not become ready (exit {process.poll()})")
            try:
                httpx.get(ready, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.02)
        yield process, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def our_server(model_dir: Path, runtime: str, port: int) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "POD_IP": HOST}
    return [sys.executable, "-m", "modelpipe_trainer", "serve", "--runtime", runtime], env


def measure(
    label: str, argv: list[str], env: dict[str, str], bodies: dict[int, bytes], args: Any
) -> tuple[float, float, dict[int, Row], list[Any]]:
    """Start to ready, RSS after the run, a Row per request size, and the 100-row answer."""
    port = args.port
    url = f"http://{HOST}:{port}/v2/models/bench/infer"
    headers = {"content-type": "application/json"}
    rows: dict[int, Row] = {}
    at_server: dict[int, float | None] = {}
    with serving(argv, env, port) as (process, ready), httpx.Client(timeout=30) as client:
        answer = client.post(url, content=bodies[100], headers=headers).json()
        for size, body in bodies.items():

            def call(b: bytes = body) -> None:
                client.post(url, content=b, headers=headers).raise_for_status()

            timed_calls(call, 20)  # warm up
            before = infer_buckets(client, f"http://{HOST}:{port}")
            samples = timed_calls(call, args.requests)
            at_server[size] = server_p50(before, infer_buckets(client, f"http://{HOST}:{port}"))
            p50, p99 = percentiles(samples)
            rps = concurrent_rps(url, json.loads(body), clients=args.clients, count=args.requests)
            rows[size] = (p50, p99, len(samples) / sum(samples), rps)
        rss = footprint.rss_mib(process.pid)
    print(f"  {label:8} start to ready {ready:6.2f} s, RSS {rss:5.0f} MiB after the run")
    for size, (p50, p99, seq, rps) in rows.items():
        server = at_server[size]
        inside = f"  (p50 {server:.2f} ms at the server)" if server is not None else ""
        print(
            f"  {label:8} {size:3}-row  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
            f"  {seq:7,.0f} req/s sequential  {rps:7,.0f} req/s with {args.clients} clients"
            + inside
        )
    return ready, rss, rows, answer["outputs"][0]["data"]


def ratios(
    label: str,
    base: tuple[float, float, dict[int, Row]],
    other: tuple[float, float, dict[int, Row]],
) -> None:
    """``other`` against the ONNX path: >1 means ONNX is better on that figure."""
    parts = [f"start {other[0] / base[0]:.1f}x", f"RSS {other[1] / base[1]:.1f}x"]
    for size, row in other[2].items():
        b = base[2][size]
        parts.append(
            f"{size}-row p50 {row[0] / b[0]:.1f}x p99 {row[1] / b[1]:.1f}x"
            f" req/s {b[2] / row[2]:.1f}x/{b[3] / row[3]:.1f}x"
        )
    print(f"  {label}/onnx: " + ", ".join(parts))


def compare_servers(model_dir: Path, tmp: Path, args: Any, mlserver: Path | str | None) -> None:
    rows = make_frame(300, seed=5).dropna().head(100).drop(columns=TARGET)
    bodies = {size: json.dumps(v2_body(rows.head(size))).encode() for size in (1, 100)}
    results = {}
    for runtime in ("onnx", "sklearn"):
        argv, env = our_server(model_dir, runtime, args.port)
        results[runtime] = measure(runtime, argv, env, bodies, args)
    if isinstance(mlserver, Path):
        folder = mlserver_venv.configure(tmp / "mlserver", model_dir, port=args.port)
        argv, env = mlserver_venv.command(mlserver, folder)
        results["mlserver"] = measure("mlserver", argv, env, bodies, args)
    elif mlserver is not None:
        print(f"  mlserver skipped: {mlserver}")
    answers = {name: result[3] for name, result in results.items()}
    same = all(a == answers["onnx"] for a in answers.values())
    print(f"  100-row predictions identical across {', '.join(answers)}: {'yes' if same else 'NO'}")
    for name in results:
        if name != "onnx":
            ratios(name, results["onnx"][:3], results[name][:3])


def import_sets(model_dir: Path, args: Any) -> None:
    """What each of our servers imports, and the installed size of it."""
    locked = footprint.locked_distributions(ROOT / "trainer-image" / "requirements.lock")
    venv = sum(footprint.installed_mib(d) for d in locked)
    print(
        f"  the image's runtime venv (requirements.lock):"
        f" {len(locked)} distributions, {venv:.0f} MiB installed"
    )
    for runtime in ("onnx", "sklearn"):
        argv, env = our_server(model_dir, runtime, args.port)
        with tempfile.TemporaryFile() as log:
            with serving([argv[0], "-X", "importtime", *argv[1:]], env, args.port, stderr=log):
                pass
            log.seek(0)
            top = footprint.imported_top_level(log.read().decode(errors="replace"))
        dists = footprint.distributions(top) & locked
        size = sum(footprint.installed_mib(d) for d in dists)
        heavy = ", ".join(h for h in footprint.HEAVY if h in top) or "none of them"
        if runtime == "onnx":
            print(f"  onnx     imports from: {', '.join(sorted(dists))}")
        print(
            f"  {runtime:8} imports {len(top)} top-level modules from {len(dists)} of those"
            f" distributions, {size:.0f} MiB ({size / venv:.0%});"
            f" of {', '.join(footprint.HEAVY)}: {heavy}"
        )


def image_sizes() -> None:
    """The trainer image (which also serves) and the base it is built on, as ``make images``
    left them; an ONNX-only serving image would be the base plus the ONNX import set."""
    script = str(ROOT / "hack" / "localkube" / "images.sh")
    listed = subprocess.run([script, "list"], capture_output=True, text=True).stdout
    archives = {p[0]: Path(p[1]) for p in map(str.split, listed.splitlines()) if len(p) >= 2}
    cache = Path(
        subprocess.run([script, "--print-dir"], capture_output=True, text=True).stdout.strip()
    )
    bases = sorted(cache.glob("base-*.rootfs.tar"), key=lambda p: p.stat().st_mtime)
    for name, archive in (
        ("trainer", archives.get("trainer")),
        ("base", bases[-1] if bases else None),
    ):
        if archive is not None and archive.is_file():
            print(f"  {name} image archive: {archive.stat().st_size / 2**20:.0f} MiB")
        else:
            print(f"  {name} image archive: not built from this tree (make images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=18932)
    parser.add_argument("--estimator", action="append", help="a class path; repeatable")
    parser.add_argument("--no-mlserver", action="store_true", help="skip MLServer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mlserver-") as venv_dir:
        mlserver: Path | str | None = None
        if not args.no_mlserver:
            pins = {name: version(name) for name in PINS}
            mlserver = mlserver_venv.install(Path(venv_dir), pins=pins)
        for index, estimator in enumerate(args.estimator or ESTIMATORS):
            with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
                model_dir = train_model(Path(tmp), estimator=estimator)
                record = Lineage.model_validate_json((model_dir / "lineage.json").read_bytes()).onnx
                assert record is not None and record.verified, record
                print(
                    f"serving the 20-column {estimator} pipeline, {args.requests} requests per case"
                )
                print(
                    f"  conversion and verification {record.seconds:.2f} s,"
                    f" fit {record.fit_seconds:.2f} s:"
                    f" {record.seconds / max(record.fit_seconds, 1e-3):.1f}x the fit time"
                    f" (max difference {record.max_difference:.2g} on {record.rows} rows)"
                )
                compare_servers(model_dir, Path(tmp), args, mlserver)
                if index == 0:
                    import_sets(model_dir, args)
                    image_sizes()


if __name__ == "__main__":
    main()
