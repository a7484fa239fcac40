"""Time has one home: one Clock, one formatter, one parser (``modelpipe.planning.clock``).

Two formatters that disagreed wrote a source row's times without converting them to UTC,
so a ``+02:00`` time was stored two hours off while the plan's own times were right.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from tests.operator.fake_api import FakeClock
from tests.sources.conftest import ManualClock

import modelpipe
from modelpipe.api.sources import SourceKey, SourceKind
from modelpipe.k8s.systemclock import SystemClock
from modelpipe.planning.clock import Clock, parse, rfc3339, seconds_between
from modelpipe.planning.polling import PollState
from modelpipe.planning.sourcestatus import source_status

NOON = datetime(2026, 11, 27, 12, 0, 5, 123456, tzinfo=UTC)
BERLIN = timezone(timedelta(hours=2))
ROOT = Path(modelpipe.__file__).parent
HOME = "planning/clock.py"
# Reading the time is the clock's job (SystemClock). Left alone: the kubectl plugin's
# retrain token (the plugin imports none of the operator's runtime, .importlinter) and
# the deadline of one network read of /metrics, a timeout like httpx's own.
EXEMPT = {
    ("k8s/systemclock.py", "datetime.now"),
    ("k8s/systemclock.py", "time.monotonic"),
    ("cli/commands.py", "datetime.now"),
    ("cli/commands.py", "strftime"),
    ("k8s/analysis.py", "time.monotonic"),
}
READS = {"datetime.now", "datetime.utcnow", "time.time", "time.monotonic"}
FORMATS = {"fromisoformat", "strftime", "isoformat"}


def test_one_formatter_writes_utc_in_whole_seconds_or_micro() -> None:
    assert rfc3339(NOON) == "2026-11-27T12:00:05Z"
    assert rfc3339(NOON, micro=True) == "2026-11-27T12:00:05.123456Z"  # a Lease's MicroTime
    assert rfc3339(NOON.astimezone(BERLIN)) == "2026-11-27T12:00:05Z"
    assert rfc3339(NOON.replace(tzinfo=None)) == "2026-11-27T12:00:05Z"  # naive is UTC
    assert rfc3339(None) is None


def test_one_parser_reads_what_the_formatter_and_the_api_write() -> None:
    assert parse(rfc3339(NOON)) == NOON.replace(microsecond=0)
    assert parse(rfc3339(NOON, micro=True)) == NOON
    assert parse("2026-11-27T14:00:05+02:00") == NOON.replace(microsecond=0)
    assert parse(None) is None and parse("") is None
    assert seconds_between("2026-11-27T12:00:00Z", rfc3339(NOON)) == 5.0


def test_a_source_rows_times_are_utc_like_every_other_time() -> None:
    key = SourceKey(SourceKind.GIT, "https://git.example/r.git", "main")
    there = NOON.astimezone(BERLIN)
    row = source_status("code", key, PollState(value="abc", resolved_time=there))
    assert row.resolved_time == rfc3339(NOON) == "2026-11-27T12:00:05Z"


def test_every_clock_is_the_one_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), FakeClock(), ManualClock()]
    assert all(c.now().tzinfo is not None for c in clocks)


def _offences(path: str, tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name in {"Clock", "rfc3339"}:
            found.append(f"{path}:{node.lineno} defines {node.name}")
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "Clock" for t in targets):
                found.append(f"{path}:{node.lineno} defines Clock")
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            call = f"{owner}.{node.attr}" if f"{owner}.{node.attr}" in READS else node.attr
            if (call in READS or call in FORMATS) and (path, call) not in EXEMPT:
                found.append(f"{path}:{node.lineno} calls {call}")
    return found


def test_time_is_formatted_parsed_and_read_in_one_module() -> None:
    """No second Clock, formatter or parser, and nobody reads the time behind the clock."""
    found = [
        offence
        for file in sorted(ROOT.rglob("*.py"))
        if (path := str(file.relative_to(ROOT))) != HOME
        for offence in _offences(path, ast.parse(file.read_text(), path))
    ]
    assert found == []
