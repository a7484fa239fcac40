"""Control-plane figures: cold build time and warm `cluster-up` time to a Ready node.

The cold build time is what build.sh recorded when it built the cache (pass
``--cold`` to rebuild into a temporary cache and measure it now; that takes
minutes). The warm start is measured here, several times, on a throwaway
cluster; the target is under 15 s.
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


def cold_build_seconds(*, rebuild: bool) -> float:
    if rebuild:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            env = {**os.environ, "MODELPIPE_CACHE": tmp}
            subprocess.run(["bash", str(BUILD)], check=True, env=env, stdout=subprocess.DEVNULL)
            return time.monotonic() - t0
    info = json.loads((binaries.cache_dir() / "build-info.json").read_text())
    return float(info["buildSeconds"])


def warm_up_seconds(rounds: int) -> list[float]:
    times = []
    for i in range(rounds):
        cluster = Cluster.at(f"bench-up-{i}")
        cluster.down(quiet=True)
        t0 = time.monotonic()
        cluster = Cluster.up(f"bench-up-{i}", log=lambda _m: None)
        times.append(time.monotonic() - t0)
        cluster.down(quiet=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="rebuild into a temporary cache")
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args()
    cold = cold_build_seconds(rebuild=args.cold)
    warm = warm_up_seconds(args.rounds)
    p50 = statistics.median(warm)
    print(
        f"cold build (from Go modules):      {cold:8.1f} s"
        f"{'' if args.cold else '  (recorded by build.sh when the cache was built)'}"
    )
    print(
        f"warm cluster-up to a Ready node:   p50 {p50:5.1f} s, max {max(warm):5.1f} s"
        f"  over {len(warm)} starts  (target < 15 s: {'met' if p50 < 15 else 'MISSED'})"
    )
    print(f"warm start / cold build ratio:     {p50 / cold:8.3f}")


if __name__ == "__main__":
    main()
