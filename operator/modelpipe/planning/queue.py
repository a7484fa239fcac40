"""Who may start a training Job now, and where everyone else stands: a pure function.

Fair across namespaces: requests are taken by priority (higher first); among equal
priorities the namespace with the fewest Jobs running-or-taken-so-far goes next, then
the oldest request. So a namespace that queued 200 runs and one that queued 2 share the
slots as they free up, instead of the 200 going first. A namespace at its own limit
does not hold up the others: its requests keep their places and wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

Key = tuple[str, str]  # (namespace, pipeline)


class LimitError(ValueError):
    """A limit the operator cannot work with (0 or negative)."""


@dataclass(frozen=True)
class Limits:
    """``None``: no limit. At least 1 each: a limit of 0 would never train anything."""

    cluster: int | None = None
    per_namespace: int | None = None

    def __post_init__(self) -> None:
        for option, value in (
            ("--max-training-jobs", self.cluster),
            ("--max-training-jobs-per-namespace", self.per_namespace),
        ):
            if value is not None and value < 1:
                raise LimitError(
                    f"{option} must be at least 1, not {value}: a limit of 0 would never "
                    "start a training Job (leave it unset for no limit)"
                )

    @property
    def unlimited(self) -> bool:
        return self.cluster is None and self.per_namespace is None


@dataclass(frozen=True)
class Request:
    """A pipeline that wants to start the Job for ``version``."""

    namespace: str
    pipeline: str
    version: str
    priority: int
    since: datetime

    @property
    def key(self) -> Key:
        return (self.namespace, self.pipeline)


@dataclass(frozen=True)
class Decision:
    admitted: frozenset[Key]
    # 1-based place of every request that waits, in the order they will start.
    positions: Mapping[Key, int]


def fair_order(requests: Iterable[Request], running: Mapping[str, int]) -> list[Request]:
    """Every request in the order it should start (priority, then namespace share, then age)."""
    queues: dict[str, list[Request]] = {}
    for request in sorted(requests, key=lambda r: (-r.priority, r.since, r.pipeline)):
        queues.setdefault(request.namespace, []).append(request)
    load = {namespace: running.get(namespace, 0) for namespace in queues}
    ordered: list[Request] = []
    while queues:
        namespace = min(
            queues,
            key=lambda ns: (-queues[ns][0].priority, load[ns], queues[ns][0].since, ns),
        )
        ordered.append(queues[namespace].pop(0))
        load[namespace] += 1
        if not queues[namespace]:
            del queues[namespace]
    return ordered


def decide(requests: Iterable[Request], running: Mapping[str, int], limits: Limits) -> Decision:
    """Admit in fair order while the cluster and the request's namespace have room."""
    total = sum(running.values())
    per_namespace = dict(running)
    admitted: set[Key] = set()
    positions: dict[Key, int] = {}
    for request in fair_order(requests, running):
        in_namespace = per_namespace.get(request.namespace, 0)
        if (limits.cluster is None or total < limits.cluster) and (
            limits.per_namespace is None or in_namespace < limits.per_namespace
        ):
            admitted.add(request.key)
            total += 1
            per_namespace[request.namespace] = in_namespace + 1
        else:
            positions[request.key] = len(positions) + 1
    return Decision(admitted=frozenset(admitted), positions=positions)
