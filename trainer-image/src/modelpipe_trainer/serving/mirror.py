"""Shadow mirroring: a copy of each answered request goes to the candidate; its answer never
goes back to the client, only into counters.

    request ──▶ production predicts ──▶ answer to the client (never waits on the shadow)
                      │ offer(): put_nowait, a full queue drops the copy (counted)
                      ▼
              bounded queue ──▶ one worker thread ──▶ POST /v2/models/{name}/infer
                                                      on the shadow (timeout, size cap)
                                                      compare 'predict' (agreement.py)
                                                      ──▶ counters on /metrics

The target is ``host:port`` of the pipeline's ``<pipeline>-shadow`` Service, set by the
operator from the pipeline's name (``MODELPIPE_SHADOW_TARGET``), never from a URL a
tenant typed. After a failed copy (the shadow has no pods between candidates) the
worker rests :data:`REST_SECONDS`, so copies are dropped cheaply instead of dialled.
Answers are read up to :data:`MAX_ANSWER_BYTES` and never logged.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
from prometheus_client import CollectorRegistry, Counter

from modelpipe_trainer.serving.agreement import Compared, compare, shadow_request
from modelpipe_trainer.serving.payloads import Columns

QUEUE_SIZE = 64
TIMEOUT_SECONDS = 1.0
REST_SECONDS = 0.5
MAX_ANSWER_BYTES = 4 << 20
_TARGET = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?):([0-9]{1,5})$")


@dataclass(frozen=True)
class Target:
    host: str
    port: int


def parse_target(text: str) -> Target:
    """``host:port`` (a Service name and its port), or ValueError saying what is wrong."""
    match = _TARGET.match(text)
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise ValueError(f"the shadow target must be host:port, got {text[:80]!r}")
    return Target(host=match.group(1), port=int(match.group(3)))


class Mirror:
    """The queue, its worker and the counters of one server's mirroring."""

    def __init__(self, target: Target, *, model: str, registry: CollectorRegistry) -> None:
        self.target = target
        self.path = f"/v2/models/{model}/infer"
        self.copies = Counter(
            "modelpipe_shadow_requests",
            "Copies of answered requests for the shadow, by outcome (answered, failed, dropped).",
            ["outcome"],
            registry=registry,
        )
        self.rows = Counter(
            "modelpipe_shadow_rows",
            "Rows the shadow predicted, by its model version and whether they agreed with ours.",
            ["shadow_version", "agreement"],
            registry=registry,
        )
        self._queue: queue.Queue[tuple[Columns, np.ndarray] | None] = queue.Queue(QUEUE_SIZE)
        self._connection: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._work, name="shadow-mirror", daemon=True)
        self._thread.start()

    def offer(self, columns: Columns, predicted: np.ndarray) -> None:
        """Queue a copy without waiting; a full queue drops it."""
        try:
            self._queue.put_nowait((columns, predicted))
        except queue.Full:
            self.copies.labels(outcome="dropped").inc()

    def close(self) -> None:
        """Stop the worker after the copies already queued (tests and benchmarks)."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            columns, predicted = item
            outcome = self._mirror(columns, predicted)
            self.copies.labels(outcome="answered" if outcome else "failed").inc()
            if not outcome:
                self._drop_until(time.monotonic() + REST_SECONDS)

    def _mirror(self, columns: Columns, predicted: np.ndarray) -> bool:
        try:
            answer = self._post(shadow_request(columns))
        except (OSError, http.client.HTTPException, ValueError):
            self._reset()
            return False
        compared = compare(predicted, answer) if answer is not None else None
        if not isinstance(compared, Compared):
            return False
        version = compared.version
        self.rows.labels(shadow_version=version, agreement="agreed").inc(compared.agreed)
        self.rows.labels(shadow_version=version, agreement="disagreed").inc(
            compared.rows - compared.agreed
        )
        return True

    def _post(self, body: bytes) -> object | None:
        """The shadow's JSON answer; None when it did not answer 200."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self.target.host, self.target.port, timeout=TIMEOUT_SECONDS
            )
        headers = {"content-type": "application/json", "connection": "keep-alive"}
        self._connection.request("POST", self.path, body=body, headers=headers)
        response = self._connection.getresponse()
        data = response.read(MAX_ANSWER_BYTES + 1)
        if response.status != 200 or len(data) > MAX_ANSWER_BYTES:
            self._reset()
            return None
        answer: object = json.loads(data)
        return answer

    def _reset(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def _drop_until(self, deadline: float) -> None:
        """Rest after a failure: copies queued meanwhile are dropped, not sent."""
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                return
            if item is None:
                self._queue.put(None)  # close() while resting: stop at the loop's next get
                return
            self.copies.labels(outcome="dropped").inc()
