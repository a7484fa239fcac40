"""Charts as inline SVG, drawn by hand: a report needs four kinds, and no plotting library.

Each function takes plain numbers and returns one ``<svg>`` element whose ``data-chart``
attribute names it, so a test (or a browser) can find every chart. Text is escaped;
numbers are formatted with a fixed precision, so the same inputs give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 420, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]


@dataclass(frozen=True)
class _Frame:
    """Maps data coordinates onto the plot area."""

    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (value - self.x0) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - BOTTOM - (value - self.y0) / span * (HEIGHT - TOP - BOTTOM)


def line_chart(
    name: str,
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    unit_square: bool = False,
    markers: bool = False,
) -> str:
    """Lines (ROC, PR, metric history); ``unit_square`` fixes both axes to [0, 1]."""
    frame = _unit() if unit_square else _fit([v for s in series for v in s.xs], _ys(series))
    body = [_axes(frame, x_label, y_label)]
    if unit_square and name == "roc":
        body.append(_polyline(frame, [0.0, 1.0], [0.0, 1.0], "#bbb", dashed=True))
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        body.append(_polyline(frame, s.xs, s.ys, colour))
        if markers:
            body += [_dot(frame, x, y, colour) for x, y in zip(s.xs, s.ys, strict=True)]
    body.append(_legend([s.label for s in series]))
    return _svg(name, title, body)


def scatter_chart(
    name: str,
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    x_label: str,
    y_label: str,
    reference: str,
) -> str:
    """Points, with a reference line: ``diagonal`` (y = x) or ``zero`` (y = 0)."""
    if reference == "diagonal":
        low, high = _bounds([*xs, *ys])
        frame = _Frame(low, high, low, high)
        ref = _polyline(frame, [low, high], [low, high], "#999", dashed=True)
    else:
        frame = _fit(xs, [*ys, 0.0])
        ref = _polyline(frame, [frame.x0, frame.x1], [0.0, 0.0], "#999", dashed=True)
    dots = [_dot(frame, x, y, PALETTE[0], radius=2.5) for x, y in zip(xs, ys, strict=True)]
    return _svg(name, title, [_axes(frame, x_label, y_label), ref, *dots])


def bar_chart(
    name: str, title: str, labels: Sequence[str], values: Sequence[float], errors: Sequence[float]
) -> str:
    """Horizontal bars with error whiskers (permutation importance), largest first."""
    height = TOP + BOTTOM + 22 * max(len(labels), 1)
    low = min([0.0, *(v - e for v, e in zip(values, errors, strict=True))])
    high = max([0.0, *(v + e for v, e in zip(values, errors, strict=True))]) or 1.0
    left, span = 150, WIDTH - 150 - RIGHT

    def x(value: float) -> float:
        return left + (value - low) / ((high - low) or 1.0) * span

    body = [
        f'<line x1="{x(0):.1f}" y1="{TOP}" x2="{x(0):.1f}" y2="{height - BOTTOM}" stroke="#333"/>'
    ]
    for i, (label, value, error) in enumerate(zip(labels, values, errors, strict=True)):
        top = TOP + 22 * i + 4
        start, end = sorted((x(0), x(value)))
        body.append(
            f'<rect class="bar" x="{start:.1f}" y="{top}" width="{max(end - start, 1):.1f}" '
            f'height="14" fill="{PALETTE[0]}"><title>{escape(label)}: {value:.4g}</title></rect>'
        )
        body.append(
            f'<line x1="{x(value - error):.1f}" y1="{top + 7}" x2="{x(value + error):.1f}" '
            f'y2="{top + 7}" stroke="#333"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{top + 11}" text-anchor="end">{escape(label[:24])}</text>'
        )
    body.append(
        f'<text x="{left + span / 2:.1f}" y="{height - 12}" text-anchor="middle">'
        "drop in score when the column is shuffled</text>"
    )
    return _svg(name, title, body, height=height)


def heatmap_chart(
    name: str, title: str, labels: Sequence[str], matrix: Sequence[Sequence[int]]
) -> str:
    """A confusion matrix: rows are the true class, columns the predicted one."""
    n = max(len(labels), 1)
    cell = min(40, (WIDTH - 120) // n)
    top, left = TOP + 16, 110
    peak = max((v for row in matrix for v in row), default=0) or 1
    body = [
        f'<text x="{left + cell * n / 2:.1f}" y="{top - 6}" text-anchor="middle">predicted</text>',
        f'<text x="14" y="{top + cell * n / 2:.1f}" transform="rotate(-90 14 '
        f'{top + cell * n / 2:.1f})" text-anchor="middle">true</text>',
    ]
    for i, row in enumerate(matrix):
        body.append(
            f'<text x="{left - 6}" y="{top + cell * i + cell / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(labels[i][:14])}</text>"
        )
        for j, value in enumerate(row):
            shade = 245 - int(200 * value / peak)
            ink = "#fff" if shade < 140 else "#000"
            x, y = left + cell * j, top + cell * i
            body.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell}" height="{cell}" '
                f'fill="rgb({shade},{shade},255)" stroke="#fff"/>'
                f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="{ink}">{value}</text>'
            )
    height = max(HEIGHT, top + cell * n + 20)
    return _svg(name, title, body, height=height)


def _svg(name: str, title: str, body: Sequence[str], *, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'font-family="sans-serif" font-size="11">'
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{escape(title)}</text>{''.join(body)}</svg>"
    )


def _axes(frame: _Frame, x_label: str, y_label: str) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" '
        'fill="none" stroke="#333"/>'
    ]
    for tick in _ticks(frame.x0, frame.x1):
        parts.append(
            f'<text x="{frame.x(tick):.1f}" y="{bottom + 14}" text-anchor="middle">'
            f"{tick:.3g}</text>"
        )
    for tick in _ticks(frame.y0, frame.y1):
        parts.append(
            f'<text x="{LEFT - 4}" y="{frame.y(tick) + 4:.1f}" text-anchor="end">{tick:.3g}</text>'
        )
    middle = (TOP + bottom) / 2
    parts.append(
        f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="12" y="{middle}" transform="rotate(-90 12 {middle})" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    return "".join(parts)


def _polyline(
    frame: _Frame, xs: Sequence[float], ys: Sequence[float], colour: str, *, dashed: bool = False
) -> str:
    points = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in zip(xs, ys, strict=True))
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (
        f'<polyline class="{"reference" if dashed else "line"}" points="{points}" fill="none" '
        f'stroke="{colour}" stroke-width="{1 if dashed else 2}"{dash}/>'
    )


def _dot(frame: _Frame, x: float, y: float, colour: str, *, radius: float = 3.0) -> str:
    return (
        f'<circle class="point" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="{radius}" '
        f'fill="{colour}" fill-opacity="0.7"/>'
    )


def _legend(labels: Sequence[str]) -> str:
    if len(labels) < 2 and not (labels and labels[0]):
        return ""
    rows = []
    for i, label in enumerate(labels[:8]):
        y = TOP + 14 + 14 * i
        rows.append(
            f'<rect x="{WIDTH - RIGHT - 110}" y="{y - 8}" width="10" height="10" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{WIDTH - RIGHT - 96}" y="{y + 1}">{escape(label[:16])}</text>'
        )
    return "".join(rows)


def _unit() -> _Frame:
    return _Frame(0.0, 1.0, 0.0, 1.0)


def _ys(series: Sequence[Series]) -> list[float]:
    return [v for s in series for v in s.ys]


def _fit(xs: Sequence[float], ys: Sequence[float]) -> _Frame:
    return _Frame(*_bounds(xs), *_bounds(ys))


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        return low - 0.5, high + 0.5
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + step * i for i in range(count)]
