"""Pod IP allocation: one loopback address per pod, ``<prefix>.x.y``.

Pure. Every address in 127.0.0.0/8 can be bound without configuring an interface,
so giving each pod its own address lets many replicas bind the same port.
"""

from __future__ import annotations

from collections.abc import Collection


def next_free_ip(prefix: str, used: Collection[str], *, hint: int = 0) -> str | None:
    """The first free ``prefix.x.y`` at or after ``hint`` (wrapping), skipping .0 and .255."""
    size = 256 * 256
    for offset in range(size):
        n = (hint + offset) % size
        x, y = divmod(n, 256)
        if y in (0, 255) or (x == 0 and y == 1):
            continue
        ip = f"{prefix}.{x}.{y}"
        if ip not in used:
            return ip
    return None
