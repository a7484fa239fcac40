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
from collections.abc import Mapping
from typing import Any

from modelpipe.k8s.bodies import JobBody, parse

State = tuple[str, bool, bool]


def job_state(job: JobBody) -> State:
    """(phase, started, deleting): what plan() reads of a Job."""
    done = job.finished
    phase = "Complete" if "Complete" in done else ("Failed" if "Failed" in done else "Active")
    return phase, bool(job.status.start_time), bool(job.metadata.deletion_timestamp)


class JobEvents:
    """The last state seen per Job (namespace, uid), in memory."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], State] = {}
        self._guard = threading.Lock()

    def worth_a_pass(self, *, namespace: str, body: Mapping[str, Any], deleted: bool) -> bool:
        job = parse(JobBody, body)
        key = (namespace, job.metadata.uid)
        with self._guard:
            if deleted:
                self._seen.pop(key, None)
                return True
            state = job_state(job)
            if self._seen.get(key) == state:
                return False
            self._seen[key] = state
            return True
