"""Cron schedules: validate at admission, compute fire times (the plan picks the due slot).

Admission checks the *shape* with a CEL regex (CEL cannot evaluate cron);
:func:`check_schedule` finds the subtler mistakes (``61 * * * *``, ``0 0 31 2 *``)
and the operator reports them as a condition. Times are UTC, like a CronJob
without ``timeZone``.

A scheduled run retrains on the *current* inputs; the operator includes the
slot in the run's identity, so a nightly run with unchanged inputs is a new run
and not a duplicate of last night's. After downtime only the latest missed slot
runs (at most once), and only within the starting deadline — no catch-up storm.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

MAX_SCHEDULE_LENGTH = 100
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_FIELD = r"[0-9A-Za-z*/,?-]+"
# RE2 (CEL) and Python agree on this syntax; one source for both.
CRON_SHAPE = (
    rf"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|{_FIELD}( +{_FIELD}){{4}})$"
)
CRON_CEL_RULE = {
    "rule": f"self.matches('{CRON_SHAPE}')",
    "message": "schedule must be five cron fields (minute hour day-of-month month day-of-week, "
    "e.g. '0 2 * * *') or a macro such as @daily",
}


def check_schedule(expression: str) -> str | None:
    """Return what is wrong with a cron expression, or None when it is valid."""
    text = expression.strip()
    if len(text) > MAX_SCHEDULE_LENGTH:
        return f"schedule is longer than {MAX_SCHEDULE_LENGTH} characters"
    if text.startswith("@"):
        return None if text in _MACROS else f"unknown cron macro {text!r}; use one of {_MACROS}"
    if len(text.split()) != 5:
        return (
            f"schedule {text!r} has {len(text.split())} fields; cron needs exactly 5 "
            "(minute hour day-of-month month day-of-week), seconds are not supported"
        )
    if not croniter.is_valid(text):
        return f"schedule {text!r} is not valid cron syntax"
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError) as exc:
        return f"schedule {text!r} never fires: {exc}"
    return None


def next_fire(expression: str, *, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (aware UTC in, aware UTC out)."""
    fire: datetime = croniter(expression.strip(), after).get_next(datetime)
    return fire


def latest_fire(expression: str, *, at_or_before: datetime) -> datetime:
    """The last fire time at or before ``at_or_before``."""
    start = at_or_before.replace(microsecond=0) + timedelta(seconds=1)
    fire: datetime = croniter(expression.strip(), start).get_prev(datetime)
    return fire
