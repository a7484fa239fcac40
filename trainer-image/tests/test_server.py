"""``run_server`` refuses bad model directories before binding anything (in-process)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelpipe_trainer.contract import ExitCode
from modelpipe_trainer.serving.server import ServeOptions, run_server


def _serve(model_dir: Path) -> int:
    return run_server(ServeOptions(model_dir=model_dir, host="127.0.0.1", port=1))


def test_corrupt_model_exits_model_rejected(iris_model: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    (copy / "model.skops").write_bytes((copy / "model.skops").read_bytes()[:1000])
    assert _serve(copy) == ExitCode.MODEL_REJECTED
    assert "not a readable skops file" in capsys.readouterr().err


def test_tampered_model_exits_model_rejected(tampered_model: Path, capsys) -> None:
    assert _serve(tampered_model) == ExitCode.MODEL_REJECTED
    assert "builtins.eval" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["lineage.json", "schema.json", "model.skops"])
def test_incomplete_directory_exits_model_rejected(iris_model, tmp_path, capsys, missing) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(iris_model, copy)
    (copy / missing).unlink()
    assert _serve(copy) == ExitCode.MODEL_REJECTED
    assert missing in capsys.readouterr().err


def test_missing_directory(tmp_path: Path, capsys) -> None:
    assert _serve(tmp_path / "nope") == ExitCode.MODEL_REJECTED
    assert "is not a directory" in capsys.readouterr().err
