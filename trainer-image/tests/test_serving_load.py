"""Health probes stay answered while hostile bodies hit a real server (issue 16, finding 5).

A bounded loopback load test: the real ``serve`` process; a few threads send, for a
fixed time, bodies that used to stall the event loop (a 15 MiB body took 9 to 13 s
of it) or give 500s (deep nesting, a 5,000-digit integer); a prober asks
``/v2/health/ready`` all along. The bound on probe latency is generous, for a busy
CI machine; ``benchmarks/trainer/bench_serving.py`` prints the tight figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

HOST = "127.1.33.8"  # a pod-like loopback address, bound directly
SECONDS = 8.0
PROBE_BOUND = 3.0
ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def _records(target_bytes: int) -> bytes:
    """A /predict body of about ``target_bytes``: far too many rows, found only once parsed."""
    row = json.dumps(ROW).encode()
    return b'{"instances": [' + b",".join([row] * (target_bytes // (len(row) + 1))) + b"]}"


HOSTILE = {
    "15 MiB": _records(15 << 20),
    "8 MiB less a little": _records((8 << 20) - 4096),
    "nested": b'{"instances": ' + b"[" * 200_000 + b"]",
    "5,000 digits": b'{"instances": [{"sepal_length": ' + b"9" * 5000 + b"}]}",
}


@pytest.fixture
def base_url(iris_model: Path) -> Iterator[str]:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "MODEL_DIR": str(iris_model), "MODEL_NAME": "iris"}
    env |= {"POD_IP": HOST, "PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelpipe_trainer", "serve"], env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _ready(base):
            assert process.poll() is None, "the server exited during start-up"
            assert time.monotonic() < deadline, "the server did not start in 180 s"
            time.sleep(0.2)
        yield base
        assert process.poll() is None, "the server died under load"
    finally:
        process.kill()
        process.wait(timeout=30)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_probes_stay_answered_under_hostile_bodies(base_url: str) -> None:
    stop = time.monotonic() + SECONDS
    answers: list[tuple[str, int]] = []
    probes: list[tuple[float, int]] = []

    def attack(name: str) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            while time.monotonic() < stop:
                try:
                    answers.append((name, http.post("/predict", content=HOSTILE[name]).status_code))
                except httpx.TransportError:  # refused before the whole body was sent
                    answers.append((name, 0))

    def probe() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while time.monotonic() < stop:
                start = time.monotonic()
                code = http.get("/v2/health/ready").status_code
                probes.append((time.monotonic() - start, code))
                time.sleep(0.05)

    threads = [threading.Thread(target=attack, args=(name,)) for name in HOSTILE]
    threads += [threading.Thread(target=attack, args=("15 MiB",)), threading.Thread(target=probe)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    assert not any(t.is_alive() for t in threads)

    assert probes and all(code == 200 for _, code in probes)
    slowest = max(seconds for seconds, _ in probes)
    assert slowest < PROBE_BOUND, f"a probe took {slowest:.1f}s under hostile load"
    codes = {(name, code) for name, code in answers}
    assert not {c for _, c in codes} - {0, 400, 413, 503}, codes
    assert {code for name, code in codes if name in ("nested", "5,000 digits")} <= {400, 503}
    assert ("15 MiB", 200) not in codes
    assert _ready(base_url)
