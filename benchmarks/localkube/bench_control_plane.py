"""Control-plane figures: cold build time and warm `cluster-up` time to a Ready node.

The cold build time is what build.sh recorded when it built the cache (pass
``--cold`` to rebuild into a temporary cache and measure it now; that takes
minutes). The warm start (control plane, real node, CoreDNS; the node's image
store already loaded, as after a first start) is measured here, several times,
on throwaway clusters, split at the API server's readiness; the goal is 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from localkube import binaries
from localkube.cluster import Cluster

BUILD = Path(__file__).resolve().parents[2] / "hack" / "localkube" / "build.sh"
GOAL = 20.0  # seconds, issue 9
NAME = "bench-up"


def cold_build_seconds(*, rebuild: bool) -> float:
    if rebuild:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            env = {**os.environ, "MODELPIPE_CACHE": tmp}
            subprocess.run(["bash", str(BUILD)], check=True, env=env, stdout=subprocess.DEVNULL)
            return time.monotonic() - t0
    info = json.loads((binaries.cache_dir() / "build-info.json").read_text())
    return float(info["buildSeconds"])


def warm_up_seconds(rounds: int) -> list[tuple[float, float]]:
    """(total, API server ready) seconds of each start; the first, unmeasured start
    loads the node's image store, which ``down`` keeps."""
    Cluster.up(NAME, log=lambda _m: None).down(quiet=True)
    times = []
    for _ in range(rounds):
        ready: list[float] = []

        def note(message: str, ready: list[float] = ready) -> None:
            if message.startswith("API server ready"):  # "... (3.2s)"
                ready.append(float(message.rsplit("(", 1)[1].rstrip("s)")))

        t0 = time.monotonic()
        cluster = Cluster.up(NAME, log=note)
        times.append((time.monotonic() - t0, ready[0]))
        cluster.down(quiet=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="rebuild into a temporary cache")
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args()
    cold = cold_build_seconds(rebuild=args.cold)
    starts = warm_up_seconds(args.rounds)
    warm = [total for total, _ in starts]
    p50, api_p50 = statistics.median(warm), statistics.median(api for _, api in starts)
    print(
        f"cold build (from Go modules):      {cold:8.1f} s"
        f"{'' if args.cold else '  (recorded by build.sh when the cache was built)'}"
    )
    print(
        f"warm cluster-up to a Ready node:   p50 {p50:5.1f} s, max {max(warm):5.1f} s"
        f"  over {len(warm)} starts  ({p50 / GOAL:.2f}x the {GOAL:g} s goal)"
    )
    print(
        f"  of which the API server's /readyz: p50 {api_p50:5.1f} s ({api_p50 / p50:.0%});"
        " the rest is the node and CoreDNS"
    )
    print(f"warm start / cold build ratio:     {p50 / cold:8.3f}")


if __name__ == "__main__":
    main()
