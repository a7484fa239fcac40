"""Go-style durations, as the CRD's CEL duration() accepts them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelpipe.api.durations import cel_minimum, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("1.5h", 5400), ("2h0m10s", 7210)],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "5 m", "-1s", "1d", "m5"])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        parse_duration(text)


def test_cel_rule() -> None:
    assert cel_minimum("5s", "pollInterval")["rule"] == "duration(self) >= duration('5s')"
