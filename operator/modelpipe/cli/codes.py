"""The plugin's exit codes: stable, documented in docs/cli.md, usable in scripts."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # The API server could not be reached or answered an error; a bad kubeconfig.
    ERROR = 1
    # Unknown command, flag or output format; a missing argument (argparse's own code).
    USAGE = 2
    # No such pipeline, run, model version, log or report.
    NOT_FOUND = 3
    # The user's RBAC does not allow it.
    FORBIDDEN = 4
