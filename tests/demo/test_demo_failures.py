"""`make demo` on a fresh machine: a slow CRD, a failing kubectl, the clean-up hint (11.14)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[2] / "hack" / "demo.py"


def load_demo() -> ModuleType:
    # As `python hack/demo.py` runs it: its directory first, for hack/demo_store.py.
    if str(DEMO.parent) not in sys.path:
        sys.path.insert(0, str(DEMO.parent))
    spec = importlib.util.spec_from_file_location("modelpipe_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SlowCrdCluster:
    """kubectl answering from a script: not found, not yet Established, Established."""

    def __init__(self, answers: list[tuple[int, dict[str, Any] | None, str]]) -> None:
        self.answers = answers
        self.calls = 0

    def kubectl(self, *args: str, check: bool = True, **_: Any) -> subprocess.CompletedProcess[str]:
        code, body, stderr = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return subprocess.CompletedProcess(args, code, json.dumps(body) if body else "", stderr)


def established(status: str) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": "Established", "status": status}]}}


def test_waits_through_a_crd_the_apiserver_does_not_know_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = load_demo()
    monkeypatch.setattr(demo.time, "sleep", lambda _: None)
    cluster = SlowCrdCluster(
        [
            (1, None, 'Error from server (NotFound): customresourcedefinitions "x" not found'),
            (0, established("False"), ""),
            (0, established("True"), ""),
        ]
    )
    demo.wait_for_crd(cluster, "modelpipelines.modelpipe.io")
    assert cluster.calls == 3


def test_a_crd_that_never_becomes_established_is_a_bounded_failure_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = load_demo()
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(demo.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(demo.time, "sleep", lambda _: None)
    cluster = SlowCrdCluster([(1, None, "the server is currently unable to handle the request")])
    with pytest.raises(demo.DemoFailed, match="unable to handle the request"):
        demo.wait_for_crd(cluster, "modelpipelines.modelpipe.io", timeout=60)


def test_a_failing_command_prints_its_stderr_and_how_to_clean_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = load_demo()

    def fail() -> int:
        raise subprocess.CalledProcessError(
            1, ["kubectl", "apply", "-f", "crd.yaml"], stderr="error: the server refused it\n"
        )

    monkeypatch.setattr(demo, "start", fail)
    assert demo.main() == 1
    out = capsys.readouterr().out
    assert "kubectl apply -f crd.yaml" in out
    assert "error: the server refused it" in out
    assert "make cluster-down CLUSTER=demo" in out
