"""``modelpipe-trainer serve`` under hostile bodies: health-probe latency against the same
server idle, measured in the same run.

    python benchmarks/trainer/bench_serving_hostile.py              # 10 s per case
    python benchmarks/trainer/bench_serving_hostile.py --seconds 30

The attackers send, for a fixed time, what used to stall the event loop or give a
500: 15 MiB bodies (refused while reading), bodies just under the 8 MiB cap that
parse into far too many rows, 200,000-deep nesting and a 5,000-digit integer. A
prober asks /v2/health/ready every 50 ms throughout. The figures are p50/p99/max
probe latency and the ratio to the idle server; ``test_serving_load.py`` asserts
only a generous bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_serving import HOST, start_server, train_model
from synthetic import TARGET, make_frame, percentiles


def hostile_bodies() -> dict[str, bytes]:
    row = make_frame(1, seed=3).drop(columns=TARGET).to_json(orient="records")[1:-1].encode()

    def records(size: int) -> bytes:
        return b'{"instances": [' + b",".join([row] * (size // (len(row) + 1))) + b"]}"

    return {
        "15 MiB": records(15 << 20),
        "just under 8 MiB": records((8 << 20) - 4096),
        "nested": b'{"instances": ' + b"[" * 200_000 + b"]",
        "5,000 digits": b'{"instances": [{"x00": ' + b"9" * 5000 + b"}]}",
    }


def probe_latencies(
    base: str, seconds: float, bodies: dict[str, bytes]
) -> tuple[list[float], dict[str, int]]:
    stop = time.monotonic() + seconds
    probes: list[float] = []
    codes: dict[str, int] = {}

    def attack(body: bytes) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < stop:
                try:
                    code = str(http.post("/predict", content=body).status_code)
                except httpx.TransportError:
                    code = "refused mid-body"
                codes[code] = codes.get(code, 0) + 1

    def probe() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < stop:
                start = time.perf_counter()
                http.get("/v2/health/ready").raise_for_status()
                probes.append(time.perf_counter() - start)
                time.sleep(0.05)

    threads = [threading.Thread(target=attack, args=(b,)) for b in bodies.values()]
    threads.append(threading.Thread(target=probe))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return probes, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=18951)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        server = start_server(train_model(Path(tmp)), args.port)
        base = f"http://{HOST}:{args.port}"
        try:
            idle, _ = probe_latencies(base, args.seconds, {})
            loaded, codes = probe_latencies(base, args.seconds, hostile_bodies())
        finally:
            server.terminate()
            server.wait(timeout=30)
    i50, i99 = percentiles(idle)
    h50, h99 = percentiles(loaded)
    print(f"/v2/health/ready latency, {args.seconds:.0f} s per case")
    for label, (p50, p99), samples in (
        ("idle server (anchor)", (i50, i99), idle),
        ("under hostile bodies", (h50, h99), loaded),
    ):
        worst = max(samples) * 1000
        print(f"  {label}   p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  max {worst:7.1f} ms")
    print(f"  ratio hostile/idle: p50 {h50 / i50:.1f}x, p99 {h99 / i99:.1f}x")
    print(f"  hostile answers: {json.dumps(codes, sort_keys=True)}")


if __name__ == "__main__":
    main()
