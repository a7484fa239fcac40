"""The running operator's clock (``planning.clock.Clock``): the system's time and sleep.

It sits at the edge because sleeping needs the pollers' event loop (asyncio), which
decision code may not import. The reconciler hands it to the source pollers, so the
operator has one clock; tests inject their own.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
