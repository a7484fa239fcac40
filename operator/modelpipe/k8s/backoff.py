"""When to send a refused API request again: 429 and 5xx, with backoff, jitter and Retry-After.

Pure: the caller passes the attempt, the answer, what it has waited so far and a random
draw in [0, 1); the answer is the seconds to wait, or ``None`` to give up and raise.

- 429 (API Priority and Fairness, or a max-in-flight limit) and every 5xx are retried; any
  other status is the answer. The operator's writes are safe to send twice: creates use
  deterministic names and take ``AlreadyExists`` as adoption, patches and deletes are
  idempotent, so a 5xx after the apiserver did apply a write costs nothing.
- The wait is full-jitter exponential backoff (``draw * min(cap, base * 2**(attempt-1))``),
  so a fleet of handlers refused at the same moment does not come back at the same moment.
- ``Retry-After`` (seconds or an HTTP date) is a floor: never sooner than the server asked,
  plus the jitter. A server asking for more than one wait may last (``cap``) or than the
  budget has left is answered by giving up: the reconcile fails and kopf retries it later,
  instead of a handler thread sleeping for minutes.
- Bounded: at most ``attempts`` sends and ``budget_seconds`` of waiting per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.25
    cap_seconds: float = 10.0
    budget_seconds: float = 30.0


def retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def retry_delay(
    policy: RetryPolicy,
    *,
    attempt: int,
    status: int,
    retry_after: float | None,
    waited: float,
    draw: float,
) -> float | None:
    """Seconds to wait before send number ``attempt + 1``; ``None``: raise the answer."""
    if not retryable(status) or attempt >= policy.attempts:
        return None
    jitter = draw * min(policy.cap_seconds, policy.base_seconds * 2.0 ** (attempt - 1))
    delay = jitter if retry_after is None else retry_after + jitter
    if (retry_after or 0.0) > policy.cap_seconds or waited + delay > policy.budget_seconds:
        return None
    return delay


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; else ``None``."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
