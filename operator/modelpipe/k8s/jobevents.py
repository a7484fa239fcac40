"""Which Job events are worth a reconcile pass: those that change what plan() reads.

A training Job's watch events come many per run (the Job controller updates its status
as pods start, become ready, count active and terminating ones), but plan() reads only
its phase (active, succeeded, failed), whether it started and whether it is being
deleted. An event that changes none of these cannot change the plan, so it costs no
pass; 300 Jobs starting at once then cost one pass each instead of four or five. The
first event of each Job (also after a restart, when kopf lists them all) always passes.
"""

from __future__ import annotations

import threading
from typing import Any

State = tuple[str, bool, bool]


def job_state(body: dict[str, Any]) -> State:
    """(phase, started, deleting): what plan() reads of a Job."""
    status = body.get("status") or {}
    done = {
        c.get("type")
        for c in status.get("conditions") or []
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed")
    }
    phase = "Complete" if "Complete" in done else ("Failed" if "Failed" in done else "Active")
    deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
    return phase, bool(status.get("startTime")), deleting


class JobEvents:
    """The last state seen per Job (namespace, uid), in memory."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], State] = {}
        self._guard = threading.Lock()

    def worth_a_pass(self, *, namespace: str, body: dict[str, Any], deleted: bool) -> bool:
        key = (namespace, str((body.get("metadata") or {}).get("uid") or ""))
        with self._guard:
            if deleted:
                self._seen.pop(key, None)
                return True
            state = job_state(body)
            if self._seen.get(key) == state:
                return False
            self._seen[key] = state
            return True
