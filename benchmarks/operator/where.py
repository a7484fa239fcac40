"""Where a burst's time goes: CPU seconds by process and API requests by kind, in a window.

The local cluster's components (kube-apiserver, etcd, the controllers, kubelet,
containerd) and the operator are all processes of this machine, so ``/proc`` gives each
one's CPU time; the apiserver's ``apiserver_request_total`` gives every request it served,
by verb and resource. Both are read before and after the window and printed as
differences: on 2 cores a burst is decided by who spends the cores, and the requests per
change say how much of that is the operator's asking.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.operator.fleet import request_counts

from localkube.cluster import Cluster

EVERY_VERB = frozenset({"GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE", "APPLY"})
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every live process's name and user plus system CPU seconds, by pid. Kernel workers
    rename themselves after their current work ("kworker/u8:1-writeback"): the part
    before the dash is kept, so a renamed worker is still one process."""
    seconds: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        if name.startswith("kworker/"):
            name = name.split("-", 1)[0]
        elif int(entry.name) == os.getpid():
            name = "this benchmark"  # its watch and its requests share the cores too
        seconds[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return seconds


@dataclass(frozen=True)
class Mark:
    cpu: dict[int, tuple[str, float]]
    requests: Counter[str]


def mark(cluster: Cluster) -> Mark:
    return Mark(cpu=cpu_by_process(), requests=request_counts(cluster, EVERY_VERB))


def report(before: Mark, after: Mark, *, changes: int, seconds: float, top: int = 6) -> str:
    """Two lines: the top CPU users in the window, and API requests per change."""
    used: dict[str, float] = {}
    for pid, (name, spent) in after.cpu.items():
        earlier = before.cpu.get(pid)
        since = spent - earlier[1] if earlier is not None and earlier[0] == name else spent
        used[name] = used.get(name, 0.0) + since  # a process started in the window: all of it
    total = sum(v for v in used.values() if v > 0)
    cores = os.cpu_count() or 1
    busiest = sorted(used.items(), key=lambda kv: -kv[1])[:top]
    cpu = ", ".join(f"{name} {spent:.1f}" for name, spent in busiest)
    asked = Counter({k: after.requests[k] - before.requests[k] for k in after.requests})
    per = sum(v for v in asked.values() if v > 0) / changes
    kinds = ", ".join(f"{k} {n / changes:.2f}" for k, n in asked.most_common(12) if n > 0)
    return (
        f"    where the time went: {total:.1f} CPU-s used of {seconds * cores:.1f} "
        f"({cores} cores x {seconds:.1f} s); by process: {cpu}\n"
        f"    apiserver requests per change (every client): {per:.1f}: {kinds}"
    )
