"""``modelpipe-trainer serve`` start-up: exec to the first ready probe, against the floor.

    python benchmarks/trainer/bench_serving_startup.py             # 3 starts per case
    python benchmarks/trainer/bench_serving_startup.py --repeat 5

The floor is what any skops-based server pays, measured in the same run: a bare
interpreter that imports skops (which imports all of scikit-learn) and loads the
same model file. The ratio is what ``serve`` adds: its imports (starlette,
uvicorn, pydantic, our modules), the document checks, the allowlist and the bind.
Each case is also run with --hogs processes spinning on the CPU, as on a busy
node; the deadline the operator gives a rollout (progressDeadlineSeconds) must
cover the loaded figure with room to spare.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_serving import HOST, train_model

FLOOR = (
    "import sys, skops.io as s;"
    " s.load(sys.argv[1], trusted=s.get_untrusted_types(file=sys.argv[1]))"
)


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def floor_start(model_file: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the floor program."""
    cpu, start = _cpu_of_children(), time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(model_file)], check=True)
    return time.perf_counter() - start, _cpu_of_children() - cpu


def serve_start(model_dir: Path, port: int) -> tuple[float, float]:
    """(wall, CPU) seconds from exec to the first 200 on /v2/health/ready."""
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PORT": str(port), "POD_IP": HOST}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelpipe_trainer", "serve"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - start < 600:
            try:
                if httpx.get(f"http://{HOST}:{port}/v2/health/ready", timeout=5).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.02)
        wall = time.perf_counter() - start
    finally:
        process.terminate()
    _, _, usage = os.wait4(process.pid, 0)
    return wall, usage.ru_utime + usage.ru_stime


@contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--port", type=int, default=18941)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        model_dir = train_model(Path(tmp))
        print(
            f"serve start-up (exec to ready), median of {args.repeat}; floor = import skops + load"
        )
        for label, hogs in (("idle", 0), (f"{args.hogs} CPU hogs", args.hogs)):
            with cpu_hogs(hogs):
                floor = [floor_start(model_dir / "model.skops") for _ in range(args.repeat)]
                served = [serve_start(model_dir, args.port) for _ in range(args.repeat)]
            fw, fc = (statistics.median(x) for x in zip(*floor, strict=True))
            sw, sc = (statistics.median(x) for x in zip(*served, strict=True))
            print(f"  {label}")
            print(f"    floor                 wall {fw:6.2f} s  cpu {fc:6.2f} s")
            print(f"    serve                 wall {sw:6.2f} s  cpu {sc:6.2f} s")
            print(f"    ratio serve/floor     wall {sw / fw:.2f}x   cpu {sc / fc:.2f}x")


if __name__ == "__main__":
    main()
