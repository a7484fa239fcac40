"""``train`` and ``validate`` end to end (in-process CLI): the acceptance list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelpipe_contract.runconfig import RunConfig
from sklearn.model_selection import train_test_split

from modelpipe_trainer.bundle import load_bundle
from modelpipe_trainer.scoring import score

ARTIFACTS = {
    "model.skops",
    "model.onnx",
    "manifest.json",
    "metrics.json",
    "lineage.json",
    "schema.json",
    "report.html",
    "train.log",
}


def _files(result: dict[str, Any]) -> set[str]:
    return {p.name for p in Path(result["artifactPath"]).iterdir()}


def test_train_from_file_writes_all_artifacts(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
) -> None:
    code, result = run_cli("train", make_config(iris_csv))
    assert (code, result["outcome"]) == (0, "Succeeded")
    assert result["artifactPath"] == str(tmp_path / "artifacts" / "v1")
    assert _files(result) == ARTIFACTS
    assert set(result["metrics"]) == {
        "accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro",
        "roc_auc", "log_loss",
    }  # fmt: skip
    assert result["metrics"]["accuracy"] > 0.8
    assert result["rows"] == {"total": 150, "train": 120, "test": 30}
    lineage = json.loads((Path(result["artifactPath"]) / "lineage.json").read_text())
    assert lineage["dataset"]["sha256"] == result["dataHash"]
    assert lineage["codeRevision"] == "abc123"
    assert lineage["dataset"]["version"] == "2024-06"
    assert lineage["params"]["random_state"] == 7
    assert {"scikit-learn", "numpy", "pandas", "skops", "python"} <= set(lineage["libraries"])
    assert lineage["durationSeconds"] >= 0
    termination = (tmp_path / "termination-log").read_text()
    assert json.loads(termination) == result


def test_train_from_http_url(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    http_root: tuple[Path, str],
    iris: pd.DataFrame,
) -> None:
    root, base = http_root
    iris.to_parquet(root / "iris.parquet", index=False)
    code, result = run_cli("train", make_config(f"{base}/iris.parquet"))
    assert (code, result["outcome"]) == (0, "Succeeded")
    assert _files(result) == ARTIFACTS


def test_same_seed_gives_identical_metrics(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
) -> None:
    estimator = {
        "className": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 20},
    }
    runs = [
        run_cli("train", make_config(iris_csv, modelVersion=f"v{i}", estimator=estimator))[1]
        for i in (1, 2)
    ]
    assert runs[0]["metrics"] == runs[1]["metrics"]
    other = run_cli("train", make_config(iris_csv, modelVersion="v3", seed=99, estimator=estimator))
    assert other[1]["rows"] == runs[0]["rows"]  # a different seed still trains


def test_champion_is_scored_on_the_same_holdout(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
) -> None:
    code, first = run_cli("train", make_config(iris_csv, modelVersion="v1"))
    assert code == 0
    tree = {"className": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 1}}
    config = make_config(
        iris_csv, modelVersion="v2", estimator=tree, championPath=first["artifactPath"]
    )
    code, second = run_cli("train", config)
    assert code == 0
    # Recompute the champion's score on the holdout v2 used (same seed, same split).
    run = RunConfig.model_validate(config)
    frame = pd.read_csv(iris_csv)
    _, held = train_test_split(frame, test_size=0.2, random_state=7, stratify=frame["species"])
    champion = load_bundle(Path(first["artifactPath"])).model
    features = held.drop(columns="species")
    expected = score(champion, features=features, target=held["species"], task=run.task)
    assert second["championMetrics"] == pytest.approx(expected)
    assert second["championMetrics"]["accuracy"] > second["metrics"]["accuracy"]
    metrics_doc = json.loads((Path(second["artifactPath"]) / "metrics.json").read_text())
    assert metrics_doc["championMetrics"] == second["championMetrics"]


def test_identical_candidate_and_champion_score_identically(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
) -> None:
    _, first = run_cli("train", make_config(iris_csv, modelVersion="v1"))
    config = make_config(iris_csv, modelVersion="v2", championPath=first["artifactPath"])
    _, second = run_cli("train", config)
    assert second["championMetrics"] == second["metrics"]


def test_eval_dataset_is_the_holdout(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
) -> None:
    iris.iloc[::2].to_csv(tmp_path / "train.csv", index=False)
    iris.iloc[1::2].to_csv(tmp_path / "eval.csv", index=False)
    config = make_config(
        tmp_path / "train.csv", evalDataset={"uri": str(tmp_path / "eval.csv"), "version": "e1"}
    )
    code, result = run_cli("train", config)
    assert code == 0
    assert result["rows"] == {"total": 75, "train": 75, "test": 75}


def test_regression_with_categorical_feature(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    diabetes: pd.DataFrame,
    tmp_path: Path,
) -> None:
    diabetes.to_parquet(tmp_path / "diabetes.parquet", index=False)
    features = [{"name": "age", "min": 0}, {"name": "sex", "kind": "categorical"}, {"name": "bmi"}]
    features += [{"name": n} for n in ("bp", "s1", "s2", "s3", "s4", "s5", "s6")]
    config = make_config(
        tmp_path / "diabetes.parquet",
        task="regression",
        schema={"target": "target", "features": features},
        estimator={"className": "sklearn.linear_model.Ridge"},
    )
    code, result = run_cli("train", config)
    assert code == 0, result
    assert set(result["metrics"]) == {"rmse", "mae", "r2"}
    assert result["metrics"]["r2"] > 0.3
    schema = json.loads((Path(result["artifactPath"]) / "schema.json").read_text())
    assert schema["classes"] == []


def test_retried_job_replaces_the_earlier_attempt(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
) -> None:
    _, first = run_cli("train", make_config(iris_csv))
    (Path(first["artifactPath"]) / "stale-from-attempt-1").write_text("x")
    code, second = run_cli("train", make_config(iris_csv))
    assert code == 0
    assert _files(second) == ARTIFACTS


def test_validate_trains_nothing(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
) -> None:
    code, result = run_cli("validate", make_config(iris_csv))
    assert (code, result["outcome"]) == (0, "Succeeded")
    assert result["dataHash"] and result["rows"]["total"] == 150
    assert "artifactPath" not in result
    assert not (tmp_path / "artifacts").exists()
