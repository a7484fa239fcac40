"""Followed sources: git refs, HTTP datasets and manifests resolved to versions, shared polling.

Public surface (everything else is private to the package):

- :class:`SourceRegistry` / :class:`Follow`: shared, rate-limited polling for kopf's loop;
- :class:`SourceKey`, :class:`SourceKind`, :class:`SecretRef`, :class:`Credentials`;
- :func:`effective_value`, :func:`source_status`, :func:`sources_ready`: status, precedence;
- :func:`debounce` / :class:`DebouncePolicy`: when automatic triggers may start a run;
- :func:`check_schedule`, :func:`due_slot`, :data:`CRON_CEL_RULE`: cron schedules;
- :mod:`modelpipe.sources.pvc`: the hash Job for datasets on a PVC.
"""

from modelpipe.sources.clock import Clock, SystemClock
from modelpipe.sources.debounce import Debounce, DebouncePolicy, DebounceReason, debounce
from modelpipe.sources.model import (
    Credentials,
    ErrorReason,
    Observation,
    SecretRef,
    SourceError,
    SourceKey,
    SourceKind,
)
from modelpipe.sources.polling import Backoff, PollState
from modelpipe.sources.ratelimit import RateLimiter
from modelpipe.sources.registry import Follow, Snapshot, SourceRegistry
from modelpipe.sources.schedule import (
    CRON_CEL_RULE,
    CRON_SHAPE,
    check_schedule,
    due_slot,
    next_fire,
)
from modelpipe.sources.status import (
    CONDITION_TYPE,
    EffectiveValue,
    InputOrigin,
    SourcesReadyReason,
    SourceStatus,
    effective_value,
    source_status,
    sources_ready,
)

__all__ = [
    "CONDITION_TYPE",
    "CRON_CEL_RULE",
    "CRON_SHAPE",
    "Backoff",
    "Clock",
    "Credentials",
    "Debounce",
    "DebouncePolicy",
    "DebounceReason",
    "EffectiveValue",
    "ErrorReason",
    "Follow",
    "InputOrigin",
    "Observation",
    "PollState",
    "RateLimiter",
    "SecretRef",
    "Snapshot",
    "SourceError",
    "SourceKey",
    "SourceKind",
    "SourceRegistry",
    "SourceStatus",
    "SourcesReadyReason",
    "SystemClock",
    "check_schedule",
    "debounce",
    "due_slot",
    "effective_value",
    "next_fire",
    "source_status",
    "sources_ready",
]
