"""Shadow mirroring's cost to production: latency with a mirror against without, same run.

    python benchmarks/trainer/bench_shadow.py                 # 400 requests per case
    python benchmarks/trainer/bench_shadow.py --requests 2000

Three servers of the same model on loopback: a shadow, production without a mirror (the
anchor) and production mirroring every request to the shadow (MODELPIPE_SHADOW_TARGET).
Requests alternate between the two productions, one at a time over keep-alive
connections, so both see the same machine load; the ratios mirrored/anchor at p50 and
p99 are the added latency. The mirror's worker thread shares the production process
(its GIL), which is what this measures; on a 2-core machine shared with the shadow's
process, the figure is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_serving import HOST, start_server, train_model
from synthetic import TARGET, make_frame, percentiles


def _mirrored(client: httpx.Client, base: str) -> float:
    text = client.get(f"{base}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('modelpipe_shadow_requests_total{outcome="answered"}')
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--port", type=int, default=18941)
    args = parser.parse_args()
    shadow_port, plain_port, mirrored_port = args.port, args.port + 1, args.port + 2
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        model_dir = train_model(Path(tmp))
        servers = [
            start_server(model_dir, shadow_port),
            start_server(model_dir, plain_port),
            start_server(
                model_dir,
                mirrored_port,
                extra_env={"MODELPIPE_SHADOW_TARGET": f"{HOST}:{shadow_port}"},
            ),
        ]
        try:
            print(f"shadow mirroring, {args.requests} sequential requests per case")
            with httpx.Client(timeout=30) as client:
                for size in (1, 100):
                    frame = make_frame(size, seed=5).drop(columns=TARGET)
                    body = {"instances": json.loads(frame.to_json(orient="records"))}
                    plain: list[float] = []
                    mirrored: list[float] = []
                    for _ in range(args.requests):
                        for port, samples in ((plain_port, plain), (mirrored_port, mirrored)):
                            start = time.perf_counter()
                            client.post(f"http://{HOST}:{port}/predict", json=body)
                            samples.append(time.perf_counter() - start)
                    a50, a99 = percentiles(plain)
                    m50, m99 = percentiles(mirrored)
                    print(f"  {size}-row requests")
                    print(f"    no mirror (anchor)  p50 {a50:7.2f} ms  p99 {a99:7.2f} ms")
                    print(f"    mirroring           p50 {m50:7.2f} ms  p99 {m99:7.2f} ms")
                    print(f"    ratio mirroring/anchor: p50 {m50 / a50:.2f}x, p99 {m99 / a99:.2f}x")
                time.sleep(1.0)  # the last copies reach the shadow
                answered = _mirrored(client, f"http://{HOST}:{mirrored_port}")
                print(f"  copies the shadow answered: {answered:g} of {2 * args.requests}")
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
