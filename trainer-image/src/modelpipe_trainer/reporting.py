"""Delivering the result: stdout for people and logs, the termination message for the operator.

Kubernetes creates the termination-message file before the container starts, so
in a pod it always exists. Outside a pod the default ``/dev/termination-log``
usually does not, and creating a file in a host's ``/dev`` would be wrong, so the
default path is only written when it already exists; a path set explicitly in the
config is always written.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from modelpipe_contract.result import TrainerResult

DEFAULT_TERMINATION_PATH = "/dev/termination-log"
log = logging.getLogger(__name__)


def emit_result(
    result: TrainerResult, *, termination_path: str, stdout: TextIO | None = None
) -> None:
    """Print the compact result and write it to the termination-message path."""
    message = result.to_message()
    print(message, file=stdout or sys.stdout, flush=True)
    path = Path(termination_path)
    if termination_path == DEFAULT_TERMINATION_PATH and not path.exists():
        return
    try:
        path.write_text(message, encoding="utf-8")
    except OSError as exc:
        # The result is on stdout too; losing the file must not turn success into failure.
        log.warning("Could not write the termination message to %s: %s", path, exc)
