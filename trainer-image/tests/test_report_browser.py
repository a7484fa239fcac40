"""report.html in a real browser: headless Chromium (Debian's) draws every chart.

Each chart of a real report is placed at a known spot of one page, the page is
screenshot, and each chart's plot area must hold the pixels its data draws (series
colour, matrix shades), not only axes and text. The full report is screenshot too, and
must not be blank. Chromium comes from ``hack/localkube/host-packages.sh`` (``make test``
runs it).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from modelpipe_contract.result import Outcome
from modelpipe_contract.runconfig import RunConfig

from modelpipe_trainer import training

pytestmark = pytest.mark.slow

CELL_W, CELL_H = 440, 480  # every chart fits: 420 wide, at most ~460 high
SERIES_BLUE = (0x1F, 0x77, 0xB4)
SERIES = [SERIES_BLUE, (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C), (0xD6, 0x27, 0x28)]
# Scatter points are drawn at 70 % opacity over white.
SERIES += [
    (round(0.7 * r + 76.5), round(0.7 * g + 76.5), round(0.7 * b + 76.5)) for r, g, b in SERIES
]
Pixels = list[list[tuple[int, int, int]]]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("no chromium on PATH: run hack/localkube/host-packages.sh (as root)")
    return found


def _screenshot(html: Path, png: Path, *, width: int, height: int) -> Pixels:
    subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # runs as root here
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return _decode_png(png.read_bytes())


def _decode_png(data: bytes) -> Pixels:
    """8-bit RGB or RGBA, not interlaced: what Chromium writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6) and header[12] == 0
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        previous = line
    return [
        [tuple(row[x * channels : x * channels + 3]) for x in range(width)]  # type: ignore[misc]
        for row in rows
    ]


def _count(pixels: Pixels, box: tuple[int, int, int, int], match: Any) -> int:
    left, top, right, bottom = box
    return sum(1 for row in pixels[top:bottom] for p in row[left:right] if match(p))


def _near(colour: tuple[int, int, int], tolerance: int = 40) -> Any:
    return lambda p: all(abs(a - b) <= tolerance for a, b in zip(p, colour, strict=True))


def _series(p: tuple[int, int, int]) -> bool:  # lines may overlap: any series colour
    return any(_near(colour)(p) for colour in SERIES)


def _bluish(p: tuple[int, int, int]) -> bool:  # matrix cells: rgb(s, s, 255), s < 245
    return p[2] >= 240 and p[0] == p[1] and p[0] < 235


def _report(config: dict[str, Any]) -> str:
    result = training.train(RunConfig.model_validate(config))
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert result.artifact_path is not None
    return (Path(result.artifact_path) / "report.html").read_text()


def _charts(html: str) -> dict[str, str]:
    found = re.findall(r'(<svg class="chart" data-chart="([a-z-]+)".*?</svg>)', html, re.S)
    return {name: svg for svg, name in found}


def _grid_page(charts: dict[str, str], path: Path) -> dict[str, tuple[int, int, int, int]]:
    """One chart per cell, top to bottom; returns each chart's plot area in page pixels."""
    boxes, cells = {}, []
    for i, (name, svg) in enumerate(sorted(charts.items())):
        top = i * CELL_H
        cells.append(f'<div style="position:absolute;left:0;top:{top}px">{svg}</div>')
        boxes[name] = (50, top + 24, 425, top + CELL_H - 40)  # the plot area, axes included
    path.write_text(
        '<!DOCTYPE html><html><body style="margin:0;background:#fff">'
        + "".join(cells)
        + "</body></html>"
    )
    return boxes


@pytest.fixture
def regression_config(
    tmp_path: Path, diabetes: Any, make_config: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    path = tmp_path / "diabetes.csv"
    diabetes[["age", "bmi", "bp", "target"]].to_csv(path, index=False)
    return make_config(
        path,
        pipeline="diabetes",
        task="regression",
        schema={"target": "target", "features": [{"name": n} for n in ("age", "bmi", "bp")]},
        estimator={"className": "sklearn.linear_model.Ridge"},
    )


def test_every_classification_and_regression_chart_is_drawn(
    iris_csv: Path, make_config: Any, regression_config: dict[str, Any], tmp_path: Path
) -> None:
    charts = {
        **_charts(_report(make_config(iris_csv))),
        **{f"reg-{k}": v for k, v in _charts(_report(regression_config)).items()},
    }
    assert set(charts) >= {"confusion", "roc", "pr", "importance", "reg-residuals"}
    page = tmp_path / "grid.html"
    boxes = _grid_page(charts, page)
    pixels = _screenshot(page, tmp_path / "grid.png", width=CELL_W, height=CELL_H * len(charts))
    drawn = {
        name: _count(pixels, box, _bluish if name == "confusion" else _series)
        # A line is a few hundred pixels, a bar or a scatter more; a legend's swatch is 100.
        - 100 * charts[name].count('width="10" height="10"')
        for name, box in boxes.items()
    }
    assert all(count > 150 for count in drawn.values()), repr(drawn)


def test_the_whole_report_renders_and_an_empty_page_does_not_pass(
    iris_csv: Path, make_config: Any, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    report.write_text(_report(make_config(iris_csv)))
    pixels = _screenshot(report, tmp_path / "report.png", width=1000, height=2400)
    assert _count(pixels, (0, 0, 1000, 2400), _near(SERIES_BLUE)) > 1000
    assert _count(pixels, (0, 0, 1000, 2400), _bluish) > 1000  # the confusion matrix
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    empty = _screenshot(blank, tmp_path / "blank.png", width=400, height=300)
    assert _count(empty, (0, 0, 400, 300), _near(SERIES_BLUE)) == 0
