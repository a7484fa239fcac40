"""Container logs in the CRI format the kubelet keeps, and how to render them.

Each line on disk is ``<RFC3339Nano> <stdout|stderr> <F|P> <text>``; ``P`` marks a
partial line (a long line split, or output without a trailing newline yet). The
shim writes them; the kubelet endpoint renders them for ``kubectl logs``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import NamedTuple

MAX_LINE = 16 * 1024


def timestamp(ts: float) -> str:
    """RFC3339 with nanoseconds, as containerd writes it."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(ts)))
    return f"{whole}.{int((ts % 1) * 1e9):09d}Z"


def format_line(ts: float, stream: str, text: bytes, *, partial: bool) -> bytes:
    tag = b"P" if partial else b"F"
    return timestamp(ts).encode() + b" " + stream.encode() + b" " + tag + b" " + text + b"\n"


class Entry(NamedTuple):
    """One complete log line (partials joined).

    A NamedTuple rather than a dataclass: the shim imports this module, and every
    shim's memory counts.
    """

    ts: str
    stream: str
    text: bytes


def parse(lines: Iterable[bytes]) -> list[Entry]:
    """Join partial lines; skip anything that is not a CRI line."""
    out: list[Entry] = []
    pending: dict[str, tuple[str, bytes]] = {}
    for raw in lines:
        parts = raw.rstrip(b"\n").split(b" ", 3)
        if len(parts) < 3:
            continue
        ts, stream, tag = parts[0].decode(), parts[1].decode(), parts[2]
        text = parts[3] if len(parts) == 4 else b""
        first_ts, prefix = pending.pop(stream, (ts, b""))
        if tag == b"P":
            pending[stream] = (first_ts, prefix + text)
        else:
            out.append(Entry(first_ts, stream, prefix + text))
    out.extend(Entry(ts, stream, text) for stream, (ts, text) in pending.items())
    return out


def render(
    entries: list[Entry],
    *,
    timestamps: bool = False,
    tail_lines: int | None = None,
    limit_bytes: int | None = None,
    since: str | None = None,
) -> bytes:
    """The bytes ``kubectl logs`` shows for these options."""
    if since is not None:
        entries = [e for e in entries if e.ts >= since]
    if tail_lines is not None:
        entries = entries[-tail_lines:] if tail_lines > 0 else []
    body = b"".join((e.ts.encode() + b" " if timestamps else b"") + e.text + b"\n" for e in entries)
    return body[:limit_bytes] if limit_bytes is not None else body


def tail_text(entries: list[Entry], *, max_lines: int = 80, max_bytes: int = 2048) -> str:
    """The end of the log: the termination message under FallbackToLogsOnError."""
    text = b"\n".join(e.text for e in entries[-max_lines:])
    return text[-max_bytes:].decode("utf-8", "replace")
