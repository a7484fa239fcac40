"""Durations as Kubernetes writes them (a subset of Go's ``time.ParseDuration``): ``1h30m``.

The same strings pass the CRD's CEL ``duration()`` check at admission, so what the
apiserver accepts is exactly what the operator parses.
"""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m`` and friends; raise ValueError with a message fit for a condition."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"duration {text!r} must look like 30s, 5m or 1h30m")
    seconds = sum(float(number) * _SECONDS[unit] for number, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def cel_minimum(minimum: str, what: str) -> dict[str, str]:
    """A CEL rule bounding a duration string from below (``duration()`` is Kubernetes CEL)."""
    return {
        "rule": f"duration(self) >= duration('{minimum}')",
        "message": f"{what} must be at least {minimum} (e.g. 30s, 5m, 1h)",
    }
