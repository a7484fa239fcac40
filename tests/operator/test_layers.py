"""The decision layers load no I/O library (docs/operator.md "Shape").

import-linter (``.importlinter``) forbids the direct and indirect imports; this test
checks what Python really loads, package ``__init__`` side effects included.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import modelpipe

# The decision code: the packages and modules below modelpipe.sources in .importlinter.
DECISIONS = ("api", "layout.py", "inputs.py", "gate.py", "observed.py", "manifests", "planning")
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}

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
    # The trainer's libraries: the operator needs only modelpipe_contract.
    "modelpipe_trainer",
    "sklearn",
    "pandas",
    "pyarrow",
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


def test_the_operator_image_installs_no_training_library() -> None:
    """The operator's locked runtime set is the contract's (pydantic), not the trainer's."""
    lock = Path(__file__).resolve().parents[2] / "operator" / "requirements.lock"
    pinned = {line.split("==")[0].lower() for line in lock.read_text().splitlines() if "==" in line}
    assert "pydantic" in pinned
    training = {"scikit-learn", "pandas", "pyarrow", "numpy", "scipy", "skops"}
    assert not pinned & {*training, "xgboost", "xgboost-cpu", "lightgbm"}


def _decision_files() -> list[Path]:
    root = Path(modelpipe.__file__).parent
    paths = [root / part for part in DECISIONS]
    return sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py")))


def test_decision_code_reads_no_environment() -> None:
    """Configuration reaches decisions as a value (``api.config.OperatorConfig``).

    ``.importlinter`` forbids importing ``os`` there; this also catches the environment
    reached by name (``os.environ``, ``posix.getenv``, ``from os import environ``).
    """
    found = [
        f"{path.name}:{node.lineno}"
        for path in _decision_files()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT)
        or (isinstance(node, ast.Name) and node.id in ENVIRONMENT)
        or (isinstance(node, ast.alias) and node.name in ENVIRONMENT)
    ]
    assert len(_decision_files()) > 50 and found == []
