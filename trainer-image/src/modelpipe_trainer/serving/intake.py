"""How a request body gets in: a size cap enforced while reading, a read deadline, and bounds
on what is in flight.

A request is admitted only while fewer than ``max_in_flight`` requests are being
read, queued or worked on, and only while the bodies held in memory stay within
``buffer_bytes``; past either bound it gets 503 at once, so hostile load queues
nothing unbounded. The work on a body (JSON decoding, validation, prediction,
encoding) runs in ``workers`` threads, never on the event loop, so the health probes
stay answered. JSON decoding holds the GIL for its whole length, so only one thread
decodes at a time: a probe waits for at most one body's decoding (bounded by the cap).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import Request

from modelpipe_trainer.serving.payloads import MAX_ROWS, BadRequestError

_T = TypeVar("_T")


@dataclass(frozen=True)
class Limits:
    """What one server accepts; a body of 10,000 rows of a few dozen features fits the cap."""

    max_body_bytes: int = 8 << 20
    buffer_bytes: int = 64 << 20
    max_in_flight: int = 64
    read_timeout_seconds: float = 30.0
    workers: int = 2


class Intake:
    """The admission bounds and the worker threads of one app."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.in_flight = 0
        self.buffered = 0
        self.decoding = threading.Lock()
        self._workers = CapacityLimiter(limits.workers)

    @asynccontextmanager
    async def body(self, request: Request) -> AsyncIterator[bytes]:
        """The whole body, held against the bounds until the request is answered.

        Refused with 413 as soon as it is known to exceed the cap, with 503 when
        the server already holds too much, with 408 when it arrives too slowly.
        """
        limits = self.limits
        declared = _declared_length(request, cap=limits.max_body_bytes)
        if self.in_flight >= limits.max_in_flight:
            raise _busy(f"{self.in_flight} requests in flight")
        if self.buffered + declared > limits.buffer_bytes:
            raise _busy(f"{self.buffered} bytes of requests held")
        self.in_flight += 1
        held = bytearray()
        try:
            async with asyncio.timeout(limits.read_timeout_seconds):
                async for chunk in request.stream():
                    if len(held) + len(chunk) > limits.max_body_bytes:
                        raise BadRequestError(_too_large(limits.max_body_bytes), status=413)
                    if self.buffered + len(chunk) > limits.buffer_bytes:
                        raise _busy(f"{self.buffered} bytes of requests held")
                    self.buffered += len(chunk)
                    held += chunk
            yield bytes(held)
        except TimeoutError:
            raise BadRequestError(
                f"the body took longer than {limits.read_timeout_seconds:g}s to arrive",
                status=408,
            ) from None
        finally:
            self.in_flight -= 1
            self.buffered -= len(held)

    async def run(self, work: Callable[[], _T]) -> _T:
        """``work()`` in a worker thread, waiting for a free one."""
        return await anyio.to_thread.run_sync(work, limiter=self._workers)


def _declared_length(request: Request, *, cap: int) -> int:
    declared = request.headers.get("content-length")
    if declared is None:
        return 0
    if not declared.isdigit():
        raise BadRequestError("Content-Length must be a number of bytes")
    if int(declared) > cap:
        raise BadRequestError(_too_large(cap), status=413)
    return int(declared)


def _busy(why: str) -> BadRequestError:
    return BadRequestError(f"the server is busy ({why}); retry shortly", status=503)


def _too_large(cap: int) -> str:
    return (
        f"the body is larger than {cap} bytes; send at most {MAX_ROWS:,} rows per request,"
        " or use the binary tensor extension"
    )
