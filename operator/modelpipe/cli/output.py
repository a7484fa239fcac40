"""Printing a view: aligned tables by default, or one JSON or YAML document."""

from __future__ import annotations

import json
from typing import Any, TextIO

import yaml

from modelpipe.cli.views import Section, View

FORMATS = ("table", "json", "yaml")
MAX_CELL = 120


def show(view: View, *, fmt: str, out: TextIO, err: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(view.document, indent=2, sort_keys=False) + "\n")
    elif fmt == "yaml":
        out.write(yaml.safe_dump(view.document, sort_keys=False))
    else:
        out.write("\n".join(_table(s) for s in view.sections))
    for note in view.notes:
        err.write(f"note: {note}\n")


def _table(section: Section) -> str:
    lines = [section.title] if section.title else []
    rows: list[list[str]] = [section.header] if any(section.header) else []
    rows += [[_cell(c) for c in row] for row in section.rows]
    if not section.rows:
        rows.append(["(none)"])
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    for row in rows:
        cells = [c.ljust(widths[i]) if i < len(widths) else c for i, c in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."
