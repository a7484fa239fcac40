"""What one pipeline may ask of the shared pollers: the platform's bounds, set in the chart.

The pollers are shared by every namespace the operator serves, so a spec must
not be able to tie them up (issue 16: a followed URL without an ETag at
``pollInterval: 1s`` downloaded and hashed 7.5 GB in 70 s). The bounds:

- ``min_interval_seconds``: a shorter ``pollInterval`` is raised to it;
- ``max_bytes``: a larger ``maxBytes`` is lowered to it (and is the default);
- per namespace, a token bucket of checks and one of downloaded bytes: each
  namespace gets its own share of the pollers' time and bandwidth, however many
  sources it follows (``modelpipe.sources.ratelimit``);
- ``egress``: where requests may go (``modelpipe.sources.egress``).

A suspended pipeline follows nothing at all (``modelpipe.sources.follower``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelpipe.sources.egress import EgressPolicy

DEFAULT_MIN_INTERVAL_SECONDS = 10.0
# The ceiling is also what an unset spec.dataset.maxBytes means; by default the
# API's documented default (1 GiB), so a chart that keeps it changes nothing.
DEFAULT_MAX_BYTES = 1 << 30


@dataclass(frozen=True)
class SourceLimits:
    min_interval_seconds: float = DEFAULT_MIN_INTERVAL_SECONDS
    max_bytes: int = DEFAULT_MAX_BYTES
    namespace_checks_per_second: float = 1.0
    namespace_checks_burst: float = 20.0
    namespace_bytes_per_second: float = 32.0 * (1 << 20)
    namespace_bytes_burst: float = 64.0 * (1 << 20)
    egress: EgressPolicy = field(default_factory=EgressPolicy)

    def interval(self, requested_seconds: float) -> float:
        return max(self.min_interval_seconds, requested_seconds)

    def bytes_limit(self, requested: int | None) -> int:
        return min(self.max_bytes, requested or self.max_bytes)
