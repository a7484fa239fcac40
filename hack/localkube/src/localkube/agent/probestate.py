"""Probe settings and the threshold arithmetic that turns probe runs into a result.

Pure. A probe's result only flips after ``successThreshold`` consecutive successes
or ``failureThreshold`` consecutive failures, exactly like the kubelet's prober.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

Json = dict[str, Any]
HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of one container, with the API defaults applied."""

    kind: str  # "readiness" | "liveness" | "startup"
    handler: str
    detail: Json
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int
    grace_seconds: int | None


def parse_probe(kind: str, probe: Json | None) -> ProbeSpec | None:
    """Read a probe from the container spec; ``None`` when absent."""
    if not probe:
        return None
    handler = next((h for h in HANDLERS if h in probe), "")
    return ProbeSpec(
        kind=kind,
        handler=handler,
        detail=probe.get(handler) or {},
        initial_delay=float(probe.get("initialDelaySeconds", 0)),
        period=float(probe.get("periodSeconds", 10)),
        timeout=float(probe.get("timeoutSeconds", 1)),
        success_threshold=int(probe.get("successThreshold", 1)),
        failure_threshold=int(probe.get("failureThreshold", 3)),
        grace_seconds=probe.get("terminationGracePeriodSeconds"),
    )


def container_probes(container: Json) -> list[ProbeSpec]:
    found = (
        parse_probe("startup", container.get("startupProbe")),
        parse_probe("readiness", container.get("readinessProbe")),
        parse_probe("liveness", container.get("livenessProbe")),
    )
    return [p for p in found if p is not None]


@dataclass(frozen=True)
class ProbeState:
    """Consecutive counts and the current result (``None`` until decided)."""

    successes: int = 0
    failures: int = 0
    result: bool | None = None


def record(state: ProbeState, ok: bool, spec: ProbeSpec) -> ProbeState:
    """Count one probe run and flip the result when a threshold is reached."""
    if ok:
        new = replace(state, successes=state.successes + 1, failures=0)
        if new.successes >= spec.success_threshold:
            new = replace(new, result=True)
    else:
        new = replace(state, failures=state.failures + 1, successes=0)
        if new.failures >= spec.failure_threshold:
            new = replace(new, result=False)
    return new


def resolve_port(port: int | str, container: Json) -> int | None:
    """A probe port, by number or by the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return None
