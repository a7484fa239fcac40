"""A true trainer crash on the real cluster: the train container is killed mid-run, so it
leaves no result document; production keeps serving and status says how the pod ended."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    example_documents,
    new_run,
    predict,
    promoted,
    serving_version,
    settled,
    trainer_pid,
)

from localkube.reach import exposed
from localkube.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]


@contextmanager
def stalling_server() -> Iterator[tuple[str, threading.Event]]:
    """An HTTP server that holds every request open (up to 120 s): a trainer stuck downloading.

    Yields its URL and an event set once a request arrived.
    """
    arrived, release = threading.Event(), threading.Event()

    class Stall(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            arrived.set()
            release.wait(timeout=120)
            self.send_error(503)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", arrived
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_trainer_killed_mid_run_leaves_production_alone(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    ns.apply(*example_documents(data_url=data_url))
    first = promoted(ns)
    with stalling_server() as (local, arrived), exposed(ns.cluster, local) as url:
        ns.patch("iris", {"spec": {"dataset": {"uri": f"{url}/v3.csv", "version": "v3"}}})
        version = new_run(ns, besides=first)
        wait_for("the trainer to start downloading", arrived.is_set, timeout=120)
        os.kill(wait_for("the trainer's process", lambda: trainer_pid(version)), signal.SIGKILL)
        pipeline = settled(ns, "TrainingFailed", timeout=120)
    last = pipeline["status"]["lastRun"]
    assert last["modelVersion"] == version
    assert "trainer crashed" in last["message"] and "no result document" in last["message"]
    assert "exit code 137" in last["message"] and "SIGKILL" in last["message"]
    assert condition(pipeline, "Training") == ("False", "TrainingFailed")
    assert any("trainer crashed" in m and first in m for m in ns.events("TrainingFailed"))
    assert serving_version(pipeline) == first
    assert condition(pipeline, "Ready") == ("False", "TrainingFailed")
    answer = predict(ns)
    assert answer is not None and answer["model_version"] == first
    assert len(ns.jobs()) == 2  # crashed inputs are final: no retry loop
