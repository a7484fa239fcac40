"""Atomic model directories: complete or absent, and a retried write replaces the old one."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelpipe_contract.result import Outcome

from modelpipe_trainer.artifacts import write_model_dir
from modelpipe_trainer.errors import TrainerError


def test_writes_every_file(tmp_path: Path) -> None:
    final = write_model_dir(artifacts_dir=tmp_path, version="v1", files={"a": b"1", "b": b"2"})
    assert final == tmp_path / "v1"
    assert sorted(p.name for p in final.iterdir()) == ["a", "b"]
    assert (final / "a").read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1"]


def test_retry_replaces_earlier_attempt(tmp_path: Path) -> None:
    write_model_dir(artifacts_dir=tmp_path, version="v1", files={"old": b"x", "a": b"1"})
    final = write_model_dir(artifacts_dir=tmp_path, version="v1", files={"a": b"2"})
    assert [p.name for p in final.iterdir()] == ["a"]
    assert (final / "a").read_bytes() == b"2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1"]


def test_leftovers_of_a_crashed_attempt_are_removed_but_not_other_versions(tmp_path: Path) -> None:
    (tmp_path / ".tmp-v1+abc").mkdir()
    (tmp_path / ".tmp-v1-2+abc").mkdir()  # another version's in-progress write
    write_model_dir(artifacts_dir=tmp_path, version="v1", files={"a": b"1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-v1-2+abc", "v1"]


def test_unwritable_destination_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "artifacts"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(TrainerError) as caught:
        write_model_dir(artifacts_dir=blocker, version="v1", files={"a": b"1"})
    assert caught.value.outcome is Outcome.ARTIFACT_WRITE_FAILED
    assert "artifacts" in caught.value.failures[0].message


def test_failure_mid_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TrainerError):
        write_model_dir(artifacts_dir=tmp_path, version="v1", files={"sub/a": b"1"})
    assert list(tmp_path.iterdir()) == []
