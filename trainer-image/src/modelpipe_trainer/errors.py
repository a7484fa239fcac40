"""The one exception the trainer raises on purpose, and what it means to the operator.

Every anticipated failure carries the :class:`~modelpipe_contract.result.Outcome`
it maps to, so the top level can turn it into a result document and an exit code
without a chain of ``except`` clauses. Anything else is a crash (exit 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelpipe_contract.result import Outcome, ValidationFailure


class TrainerError(Exception):
    """A failure the trainer anticipated, with the outcome the operator should see."""

    def __init__(
        self,
        outcome: Outcome,
        message: str,
        failures: Sequence[ValidationFailure] = (),
        *,
        null_counts: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.failures = list(failures)
        # What the data checks counted before they failed: the report shows it either way.
        self.null_counts = (
            {role: dict(counts) for role, counts in null_counts.items()} if null_counts else None
        )


class ModelRejectedError(Exception):
    """A model directory that is missing, corrupt, or holds types outside the allowlist."""


def failure(check: str, message: str, column: str | None = None) -> ValidationFailure:
    """Shorthand used by every check, so their call sites read as one line."""
    return ValidationFailure(check=check, column=column, message=message)
