"""A canary that errors under load is aborted on its live error rate (issue 14).

The errors are real 5xx answers of the real model server: its intake admits at most
``max_in_flight`` (64) requests at once and answers 503 to the rest at once (load shedding,
trainer-image serving/intake.py). The test holds 64 slow uploads open on the canary's one
pod, from inside the node's network (localkube.reach), so further requests get 503; the
operator reads them from the pod's /metrics and aborts the step. Production keeps all its
pods and answers. Every loop is bounded; every socket is closed at the end."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from tests.e2e.harness import (
    SERVING,
    Namespace,
    Operator,
    example_documents,
    predict,
    promoted,
    ready_pods,
    serving_version,
)

from localkube.reach import node_network
from localkube.waiting import wait_for
from modelpipe.layout import MODEL_VERSION_LABEL

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

STEPS = [{"weight": 50, "pauseSeconds": 60}, {"weight": 100, "pauseSeconds": 20}]
# Lenient on latency: only the error rate can fail the step.
LIMITS = {"bakeSeconds": 10, "maxErrorRate": 0.05, "maxLatencyP99Ms": 60000, "minRequests": 5}
SLOW = 600
HELD = 64  # the server's max_in_flight (serving/intake.py Limits)
EXTRA = 24  # requests past it: each is answered 503 at once
HEAD = (
    b"POST /predict HTTP/1.1\r\nHost: canary\r\nContent-Type: application/json\r\n"
    b"Content-Length: 500000\r\n\r\n{"
)
ROW = (
    b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, '
    b'"petal_length": 1.4, "petal_width": 0.2}]}'
)


@contextmanager
def held_uploads(ns: Namespace, ip: str) -> Iterator[None]:
    """``HELD`` requests that declare a large body and send one byte of it, kept open."""
    with ExitStack() as stack, node_network(ns.cluster):
        for _ in range(HELD):
            held = stack.enter_context(socket.create_connection((ip, 8080), timeout=5))
            held.sendall(HEAD)
        yield


def shed(ns: Namespace, ip: str) -> int:
    """``EXTRA`` whole requests while the uploads are held: how many got a 5xx."""
    request = (
        b"POST /predict HTTP/1.1\r\nHost: canary\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(ROW)}\r\nConnection: close\r\n\r\n".encode()
        + ROW
    )
    errors = 0
    with node_network(ns.cluster):
        for _ in range(EXTRA):
            with socket.create_connection((ip, 8080), timeout=5) as conn:
                conn.sendall(request)
                status = conn.recv(64).split(b" ", 2)[1:2]
                errors += bool(status and status[0].startswith(b"5"))
    return errors


def test_a_canary_that_errors_under_load_is_aborted_and_production_keeps_serving(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    serving = {
        "replicas": 2,
        "strategy": {"type": "Canary", "steps": STEPS},
        "analysis": LIMITS,
        "progressDeadlineSeconds": SLOW,
    }
    ns.apply(*example_documents(data_url=data_url, serving=serving))
    first = promoted(ns, timeout=SLOW)
    ns.retrain("1")

    def canary_ready(pipeline: dict[str, Any]) -> dict[str, Any] | None:
        step = pipeline["status"].get("canary")
        if not step:
            return None
        pods = [
            p
            for p in ready_pods(ns, SERVING)
            if p["metadata"]["labels"].get(MODEL_VERSION_LABEL) == step["modelVersion"]
        ]
        return pods[0] if pods else None

    pod = wait_for("the canary's pod ready", lambda: canary_ready(ns.pipeline()), timeout=SLOW)
    candidate = pod["metadata"]["labels"][MODEL_VERSION_LABEL]
    ip = pod["status"]["podIP"]
    with held_uploads(ns, ip):
        assert shed(ns, ip) == EXTRA  # the server sheds them: 503, counted as 5xx

    def aborted(pipeline: dict[str, Any]) -> dict[str, Any] | None:
        run = pipeline["status"].get("lastRun") or {}
        return run if run.get("reason") == "CanaryAborted" else None

    run = wait_for("the erroring canary aborted", lambda: aborted(ns.pipeline()), timeout=SLOW)
    assert run["modelVersion"] == candidate and run["verdict"] == "RolledBack"
    assert "error rate" in run["message"], run["message"]
    assert run["checks"][-1]["metric"] == "canary 50%" and not run["checks"][-1]["passed"]
    pipeline = ns.pipeline()
    assert serving_version(pipeline) == first and pipeline["status"].get("canary") is None
    main = ns.get("deployment", "iris")
    assert main is not None and main["spec"]["replicas"] == 2
    wait_for(
        "only production answering",
        lambda: (predict(ns) or {}).get("model_version") == first,
        timeout=SLOW,
    )
