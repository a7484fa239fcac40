"""Run every benchmark script (``benchmarks/*/bench_*.py``) in turn.

Each script runs in its own process, so one failing benchmark does not hide the
others' figures; the exit status is non-zero if any failed.

    python -m benchmarks [--only SUBSTRING] [-- extra args for every script]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument("--only", default="", help="run scripts whose path contains this")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    scripts = sorted(p for p in HERE.glob("*/bench_*.py") if args.only in str(p))
    failed = []
    for script in scripts:
        rel = script.relative_to(HERE.parent)
        print(f"\n===== {rel} =====", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(script), *extra], check=False)
        print(f"----- {rel}: exit {proc.returncode} in {time.monotonic() - t0:.0f}s", flush=True)
        if proc.returncode != 0:
            failed.append(str(rel))
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
