"""The decision layers load no I/O library (docs/operator.md "Shape").

import-linter (``.importlinter``) forbids the direct and indirect imports; this test
checks what Python really loads, package ``__init__`` side effects included.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IO_LIBRARIES = (
    "httpx",
    "httpcore",
    "aiohttp",
    "botocore",
    "asyncio",
    "kubernetes",
    "kopf",
    "modelpipe.sources",
    "modelpipe.k8s",
)


@pytest.mark.parametrize(
    "module", ["modelpipe.api", "modelpipe.api.v1alpha1", "modelpipe.planning"]
)
def test_importing_decision_code_loads_no_io_library(module: str) -> None:
    probe = (
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted(m for m in {IO_LIBRARIES!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []
