"""Live analysis and the significance test: what a bake-window pass and a gate cost.

    python benchmarks/operator/bench_analysis.py

Figures:
- analysis overhead per pass: read one pod's /metrics over loopback (a real HTTP server
  serving the model server's own exposition), parse it, judge the window; per pod;
- analysis overhead per canary step: one plan() of a pipeline in a canary step judged on
  four pods' /metrics, against the same step as a plain pause (no serving.analysis), as
  a ratio; a step's whole pass adds the reads above, per pod;
- the significance test in the trainer: paired bootstrap (1000 draws) on accuracy (per-row
  losses) and f1_macro (confusion counts), both for all draws at once; McNemar; by holdout
  size.
"""

from __future__ import annotations

import http.server
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from modelpipe_contract.runconfig import SignificanceConfig, SignificanceTest

from modelpipe.k8s.analysis import fetch_text, parse_metrics
from modelpipe.planning.analysis import Limits, judge
from modelpipe_trainer.scoring import Outputs
from modelpipe_trainer.serving.telemetry import Telemetry
from modelpipe_trainer.significance import compare

# The planner's test worlds (tests/operator/canary_world.py) state a canary step in a line.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def exposition() -> bytes:
    telemetry = Telemetry(model="iris", version="v2", pipeline="iris")
    rng = np.random.default_rng(0)
    for _ in range(2000):
        telemetry.requests.labels(endpoint="infer", code="200").inc()
        telemetry.latency.labels(endpoint="infer").observe(float(rng.gamma(2.0, 0.002)))
    telemetry.rows.inc(2000)
    return telemetry.exposition()


def timed(repeats: int, fn: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def bench_analysis() -> None:
    body = exposition()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    limits = Limits(max_error_rate=0.01, max_latency_p99_ms=50)

    def one_pass() -> None:
        scrape = parse_metrics(fetch_text(url), pod="p", version="v2")
        judge(
            (scrape,),
            version="v2",
            limits=limits,
            started=start,
            seconds=60,
            now=start + timedelta(seconds=30),
        )

    median, worst = timed(50, one_pass)
    text = body.decode()
    parse_only, _ = timed(200, lambda: parse_metrics(text, pod="p", version="v2"))
    server.shutdown()
    print(
        f"analysis pass, 1 pod (fetch + parse + judge): median {median * 1e3:.2f} ms, "
        f"max {worst * 1e3:.2f} ms; parse alone {parse_only * 1e3:.2f} ms "
        f"({len(body)} bytes of /metrics)"
    )


def bench_canary_step() -> None:
    from tests.operator.builders import NOW, pod_metrics, with_
    from tests.operator.canary_world import in_step_one

    from modelpipe.planning import plan

    judged, _, _, second = in_step_one()
    judged = with_(judged, pod_metrics=pod_metrics(second) * 4)
    paused, _, _, _ = in_step_one(analysis=False)
    now = NOW + timedelta(seconds=30)
    with_analysis, _ = timed(300, lambda: plan(judged, now))
    pause_only, _ = timed(300, lambda: plan(paused, now))
    print(
        f"canary step pass, plan() judged on 4 pods: median {with_analysis * 1e3:.2f} ms; "
        f"as a plain pause {pause_only * 1e3:.2f} ms; ratio {with_analysis / pause_only:.2f}x"
    )


def holdout_outputs(rows: int) -> tuple[Outputs, Outputs]:
    """A candidate right on 90% of the rows and a champion right on 88%, three classes."""
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, rows)

    def model(p: float) -> Outputs:
        right = rng.random(rows) < p
        predicted = np.where(right, truth, (truth + 1) % 3)
        proba = np.full((rows, 3), 0.1)
        proba[np.arange(rows), predicted] = 0.8
        return Outputs(truth=truth, predicted=predicted, proba=proba, classes=(0, 1, 2))

    return model(0.9), model(0.88)


def bench_significance() -> None:
    tests = (
        ("bootstrap accuracy", SignificanceConfig(metric="accuracy")),
        ("bootstrap f1_macro", SignificanceConfig(metric="f1_macro")),
        ("mcNemar", SignificanceConfig(test=SignificanceTest.MCNEMAR, metric="accuracy")),
    )
    for rows in (200, 2000, 20000):
        candidate, champion = holdout_outputs(rows)
        for label, config in tests:
            start = time.perf_counter()
            got = compare(candidate=candidate, champion=champion, config=config, seed=0)
            took = time.perf_counter() - start
            print(
                f"significance {label:20s} {rows:>6} holdout rows, 1000 draws: {took:.2f} s "
                f"(p={got.p_value:.3g})"
            )


if __name__ == "__main__":
    bench_analysis()
    bench_canary_step()
    bench_significance()
