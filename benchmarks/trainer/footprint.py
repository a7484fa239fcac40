"""What a server process costs besides time: its resident memory, what it imports, and the
installed size of the distributions it imports (what a serving image must ship)."""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import re
from pathlib import Path

HEAVY = (
    "pandas",
    "sklearn",
    "scipy",
    "skops",
    "skl2onnx",
    "onnxmltools",
    "xgboost",
    "lightgbm",
    "onnxruntime",
)


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MiB."""
    total = 0
    for one in _tree(pid):
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _tree(pid: int) -> list[int]:
    pids, seen = [pid], list[int]()
    while pids and len(seen) < 1000:
        one = pids.pop()
        seen.append(one)
        for task in Path(f"/proc/{one}/task").glob("*/children"):
            try:
                pids += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return seen


def imported_top_level(importtime_log: str) -> set[str]:
    """Top-level module names in ``python -X importtime`` output."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "package":
                names.add(name.split(".")[0])
    return names


def distributions(top_level: set[str]) -> set[str]:
    """The installed distributions providing these modules (the standard library has none)."""
    providers = metadata.packages_distributions()
    return {_normal(dist) for name in top_level for dist in providers.get(name, [])}


def _normal(name: str) -> str:
    """PEP 503's form: what ``uv export`` writes (``pydantic-core``, not ``pydantic_core``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def installed_mib(dist: str) -> float:
    """0 for a distribution not installed here (a lock line for another platform)."""
    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return 0.0
    total = 0
    for file in files:
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total / 2**20


def locked_distributions(lock: Path) -> set[str]:
    """The distributions a requirements lock installs (the image's runtime venv)."""
    names = set()
    for line in lock.read_text().splitlines():
        if line[:1].isalpha() and "==" in line:
            names.add(_normal(line.split("==", 1)[0].strip()))
    return names
