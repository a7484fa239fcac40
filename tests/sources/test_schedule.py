"""Cron: validation (Python and the CEL regex agree on shape), fire times, due slots."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from modelpipe.api.schedule import CRON_CEL_RULE, CRON_SHAPE, check_schedule, next_fire

T = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "0 2 * * *",
        "*/5 * * * *",
        "0 0 * * MON-FRI",
        "15 3 1,15 * *",
        "@daily",
        "@hourly",
        "0 0 1 JAN *",
    ],
)
def test_valid(expression: str) -> None:
    assert check_schedule(expression) is None
    assert re.fullmatch(CRON_SHAPE, expression)


@pytest.mark.parametrize(
    ("expression", "fragment", "shape_ok"),
    [
        ("61 * * * *", "not valid cron", True),
        ("* * * *", "has 4 fields", False),
        ("0 0 * * * *", "seconds are not supported", False),
        ("@sometimes", "unknown cron macro", False),
        ("0 0 31 2 *", "never fires", True),
        ("x" * 101, "longer than", False),
        ("0 0 * * FOO", "not valid cron", True),
    ],
)
def test_invalid(expression: str, fragment: str, shape_ok: bool) -> None:
    problem = check_schedule(expression)
    assert problem is not None and fragment in problem
    # What the CEL regex lets through at admission, the condition must catch.
    assert bool(re.fullmatch(CRON_SHAPE, expression)) is shape_ok


def test_cel_rule_quotes_the_pattern() -> None:
    assert CRON_CEL_RULE["rule"] == f"self.matches('{CRON_SHAPE}')"
    assert "'" not in CRON_SHAPE


def test_next_fire() -> None:
    assert next_fire("0 2 * * *", after=T) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
