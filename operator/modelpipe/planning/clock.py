"""Timestamps as the API stores them; the clock itself is always injected."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_between(start: str | None, end: str) -> float | None:
    began, ended = parse(start), parse(end)
    if began is None or ended is None:
        return None
    return max(0.0, (ended - began).total_seconds())
