"""Leader election for a standby replica: hold a coordination.k8s.io Lease or wait for it.

``modelpipe-operator run --leader-election NAME`` blocks until this replica holds the
Lease ``NAME`` (in ``--leader-election-namespace``), then keeps renewing it from a
thread while kopf runs. A standby takes the Lease once it has seen it unrenewed for
``leaseDurationSeconds``; the holder, if it could not renew within ``renew_deadline``,
exits at once (``on_lost``), before anyone may take over, so two replicas never act
together. The decision is :func:`modelpipe.planning.lease.next_step`; writes are
optimistic (a merge patch carrying the resourceVersion read: a race is a 409, lost).
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime

from modelpipe.k8s.rest import JSON, MERGE_PATCH, ApiError, Rest
from modelpipe.k8s.systemclock import SYSTEM_CLOCK
from modelpipe.planning.clock import Clock, rfc3339
from modelpipe.planning.lease import LeaseRecord, Sighting, Step, next_step

logger = logging.getLogger("modelpipe.leader")
DURATION_SECONDS = 10
RENEW_DEADLINE_SECONDS = 7.0
RETRY_SECONDS = 2.0


class LeaderElector:
    def __init__(
        self,
        rest: Rest,
        *,
        namespace: str,
        name: str,
        identity: str,
        clock: Clock = SYSTEM_CLOCK,
        sleep: Callable[[float], None] = time.sleep,  # this is a thread, not the pollers' loop
    ) -> None:
        self.rest, self.identity = rest, identity
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self._collection = self.path.rsplit("/", 1)[0]
        self._name = name
        self._clock, self._sleep = clock, sleep
        self._last: Sighting | None = None
        self._stop = threading.Event()

    def try_once(self) -> bool:
        """One read and at most one write; ``True`` if this replica holds the Lease now."""
        try:
            body = self.rest.request("GET", self.path)
            now = self._clock.now()
            step, self._last = next_step(_record(body), self._last, me=self.identity, now=now)
            if step == Step.WAIT:
                return False
            if step == Step.CREATE:
                self.rest.request("POST", self._collection, body=self._lease(now, 0))
                return True
            record = self._last.record if self._last else None
            assert record is not None
            transitions = record.transitions + (0 if step == Step.RENEW else 1)
            patch = self._lease(now, transitions, acquired=step == Step.TAKE)
            patch["metadata"]["resourceVersion"] = record.resource_version
            self.rest.request("PATCH", self.path, body=patch, content_type=MERGE_PATCH)
            return True
        except ApiError as error:
            logger.info("Lease %s not written (%s %s)", self._name, error.status, error.reason)
            return False

    def acquire(self) -> None:
        """Block until this replica holds the Lease."""
        logger.info("Waiting to hold Lease %s as %s", self._name, self.identity)
        while not self.try_once():
            self._sleep(RETRY_SECONDS)
        logger.info("Acquired Lease %s as %s", self._name, self.identity)

    def keep(self, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew every RETRY_SECONDS from a daemon thread; ``on_lost`` past the deadline."""

        def renew() -> None:
            renewed = self._clock.monotonic()
            while not self._stop.wait(RETRY_SECONDS):
                if self._held():
                    renewed = self._clock.monotonic()
                elif self._clock.monotonic() - renewed > RENEW_DEADLINE_SECONDS:
                    logger.error("Lost Lease %s: stopping so that the standby can lead", self._name)
                    on_lost()
                    return

        thread = threading.Thread(target=renew, name="lease-renew", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _held(self) -> bool:
        try:
            return self.try_once()
        except Exception:  # a connection error: keep trying until the deadline
            logger.exception("Renewing Lease %s failed", self._name)
            return False

    def _lease(self, now: datetime, transitions: int, *, acquired: bool = True) -> JSON:
        spec: JSON = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": DURATION_SECONDS,
            "renewTime": rfc3339(now, micro=True),
            "leaseTransitions": transitions,
        }
        if acquired:
            spec["acquireTime"] = rfc3339(now, micro=True)
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._name},
            "spec": spec,
        }


def _record(body: JSON | None) -> LeaseRecord | None:
    if body is None:
        return None
    spec = body.get("spec") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration_seconds=int(spec.get("leaseDurationSeconds") or DURATION_SECONDS),
        renew_time=str(spec.get("renewTime") or ""),
        transitions=int(spec.get("leaseTransitions") or 0),
        resource_version=str((body.get("metadata") or {}).get("resourceVersion") or ""),
    )


@contextlib.contextmanager
def standby_health(url: str | None) -> Iterator[None]:
    """Answer ``url`` (kopf's liveness URL) with 200 while this replica waits as a standby."""
    if not url:
        yield
        return
    parsed = urllib.parse.urlsplit(url)

    class Standby(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"standby\n")

        def log_message(self, *_: object) -> None:
            return

    server = http.server.ThreadingHTTPServer((parsed.hostname or "", parsed.port or 80), Standby)
    thread = threading.Thread(target=server.serve_forever, name="standby-health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
