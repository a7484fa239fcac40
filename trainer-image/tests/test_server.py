"""``run_server`` refuses bad model directories before binding anything (in-process)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from modelpipe_contract.result import ExitCode

from modelpipe_trainer.cli import default_host
from modelpipe_trainer.serving.loading import Runtime
from modelpipe_trainer.serving.server import ServeOptions, run_server


def _serve(model_dir: Path, runtime: Runtime = Runtime.AUTO) -> int:
    options = ServeOptions(model_dir=model_dir, host="127.0.0.1", port=1, runtime=runtime)
    return run_server(options)


def test_corrupt_model_exits_model_rejected(
    iris_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    (copy / "model.skops").write_bytes((copy / "model.skops").read_bytes()[:1000])
    assert _serve(copy, Runtime.SKLEARN) == ExitCode.MODEL_REJECTED
    assert "not a readable skops file" in capsys.readouterr().err


def test_tampered_model_exits_model_rejected(
    tampered_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _serve(tampered_model, Runtime.SKLEARN) == ExitCode.MODEL_REJECTED
    assert "builtins.eval" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("missing", "runtime"),
    [
        ("lineage.json", Runtime.AUTO),
        ("schema.json", Runtime.AUTO),
        ("model.skops", Runtime.SKLEARN),
        ("model.onnx", Runtime.AUTO),
        ("manifest.json", Runtime.AUTO),
    ],
)
def test_incomplete_directory_exits_model_rejected(
    iris_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    missing: str,
    runtime: Runtime,
) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    (copy / missing).unlink()
    assert _serve(copy, runtime) == ExitCode.MODEL_REJECTED
    assert missing in capsys.readouterr().err


def test_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _serve(tmp_path / "nope") == ExitCode.MODEL_REJECTED
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"POD_IP": "10.244.0.7"}, "0.0.0.0"),  # a pod's own netns: port-forward dials localhost
        ({"POD_IP": "fd00::7"}, "::"),
        ({}, "127.0.0.1"),
        ({"POD_IP": "not-an-ip"}, "127.0.0.1"),
    ],
)
def test_serve_listens_on_the_whole_pod_network_namespace(
    environ: dict[str, str], expected: str
) -> None:
    assert default_host(environ) == expected
