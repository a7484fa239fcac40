"""Every bad input the issue names: the right exit code, an actionable message, no artifact."""

from __future__ import annotations

import io
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest


def _no_artifacts(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    assert not artifacts.exists() or list(artifacts.iterdir()) == []


def _expect(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    command: str,
    config: dict[str, Any],
    code: int,
    outcome: str,
) -> dict[str, Any]:
    got, result = run_cli(command, config)
    assert (got, result["outcome"]) == (code, outcome), result
    assert result["message"]
    return result


def _failure_text(result: dict[str, Any]) -> str:
    return " | ".join(f"{f['check']}: {f['message']}" for f in result["failures"])


@pytest.mark.parametrize("command", ["validate", "train"])
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda f: f.drop(columns="petal_width"),
            "column_present: column 'petal_width' is missing",
        ),
        (lambda f: f.assign(sepal_width="wide"), "dtype: column 'sepal_width' is declared numeric"),
        (lambda f: f.assign(petal_length=None), "all_null: column 'petal_length' has no values"),
        (
            lambda f: f.assign(species="setosa"),
            "target_classes: target column 'species' has only one class",
        ),
        (lambda f: f.head(0), "min_rows: the dataset has 0 rows"),
        (lambda f: f.assign(sepal_length=f.sepal_length * -1), "minimum: column 'sepal_length'"),
        (
            lambda f: f.drop(columns="species"),
            "column_present: column 'species' is missing",
        ),
        (
            lambda f: f.assign(
                sepal_length=f.sepal_length.astype(object).where(f.index != 3, "n/a")
            ),
            "dtype: column 'sepal_length' is declared numeric but 1 values are not numbers, "
            "e.g. 'n/a'",
        ),
    ],
    ids=[
        "missing-column",
        "wrong-dtype",
        "all-null",
        "single-class",
        "header-only",
        "below-min",
        "missing-target",
        "na-string",
    ],
)
def test_data_validation_failures(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
    mutate: Callable[[pd.DataFrame], pd.DataFrame],
    expected: str,
    command: str,
) -> None:
    mutate(iris).to_csv(tmp_path / "bad.csv", index=False)
    result = _expect(run_cli, command, make_config(tmp_path / "bad.csv"), 3, "ValidationFailed")
    assert expected in _failure_text(result)
    _no_artifacts(tmp_path)


def test_all_failures_are_listed_together(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
) -> None:
    iris.drop(columns="petal_width").assign(sepal_width="x", species="a").to_csv(
        tmp_path / "bad.csv", index=False
    )
    result = _expect(run_cli, "train", make_config(tmp_path / "bad.csv"), 3, "ValidationFailed")
    checks = {f["check"] for f in result["failures"]}
    assert {"column_present", "dtype", "target_classes"} <= checks


def test_html_page_instead_of_csv(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    """What a login page served with status 200 looks like; it used to crash with KeyError."""
    page = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>Hi</body></html>\n"
    (tmp_path / "data.csv").write_bytes(page)
    result = _expect(run_cli, "train", make_config(tmp_path / "data.csv"), 3, "ValidationFailed")
    assert "column_present: column 'species' is missing" in _failure_text(result)
    _no_artifacts(tmp_path)


def test_null_tokens_come_from_the_schema(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """ "n/a" is a null only when the schema says so; then it is imputed and counted."""
    frame = iris.astype({"petal_width": object})
    frame.loc[[3, 50, 100], "petal_width"] = "n/a"
    frame.loc[[7], "petal_width"] = None
    frame.to_csv(tmp_path / "data.csv", index=False)
    config = make_config(tmp_path / "data.csv")
    config["schema"]["features"][3]["maxNullFraction"] = 0.05
    result = _expect(run_cli, "validate", config, 3, "ValidationFailed")
    assert "e.g. 'n/a'" in _failure_text(result)
    assert result["nullCounts"] == {"dataset": {"petal_width": 1}}
    config["schema"]["nullValues"] = ["", "n/a"]
    code, result = run_cli("train", config)
    assert (code, result["outcome"]) == (0, "Succeeded"), result
    assert result["nullCounts"] == {"dataset": {"petal_width": 4}}


def test_empty_file(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    result = _expect(run_cli, "train", make_config(tmp_path / "empty.csv"), 3, "ValidationFailed")
    assert "the file is empty (0 bytes)" in _failure_text(result)
    _no_artifacts(tmp_path)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b[:4] + bytes(len(b) - 8) + b[-4:]],
    ids=["truncated", "corrupt"],
)
def test_bad_parquet(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
) -> None:
    (tmp_path / "iris.parquet").write_bytes(damage(_parquet(iris)))
    result = _expect(
        run_cli, "train", make_config(tmp_path / "iris.parquet"), 3, "ValidationFailed"
    )
    assert "not a readable Parquet file" in _failure_text(result)
    _no_artifacts(tmp_path)


def test_unreachable_url(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _expect(
        run_cli, "train", make_config(f"http://127.0.0.1:{port}/iris.csv"), 3, "ValidationFailed"
    )
    assert "cannot reach the server" in _failure_text(result)
    _no_artifacts(tmp_path)


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        (
            {"className": "sklearn.linear_model.LogisticRegresion"},
            "did you mean 'LogisticRegression'",
        ),
        ({"className": "xgboost.XGBRFClassifier"}, "only classes under sklearn."),
        ({"className": "sklearn.svm.SVC", "params": {"kernal": "rbf"}}, "did you mean 'kernel'"),
        ({"className": "sklearn.svm.SVC", "params": {"C": "big"}}, "'C' parameter of SVC"),
        (
            {"className": "lightgbm.LGBMClassifier", "params": {"num_leave": 7}},
            "'num_leave' (did you mean 'num_leaves'?)",
        ),
    ],
    ids=["unknown-class", "not-allowed", "unknown-param", "bad-param-value", "boosting-typo"],
)
def test_bad_estimator(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
    estimator: dict[str, Any],
    expected: str,
) -> None:
    result = _expect(
        run_cli, "train", make_config(iris_csv, estimator=estimator), 2, "InvalidConfig"
    )
    assert expected in _failure_text(result)
    _no_artifacts(tmp_path)


def test_invalid_config(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
) -> None:
    result = _expect(run_cli, "train", make_config(iris_csv, testSize=1.5), 2, "InvalidConfig")
    assert "testSize" in _failure_text(result)


def test_tampered_champion(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tampered_model: Path,
    tmp_path: Path,
) -> None:
    config = make_config(iris_csv, championPath=str(tampered_model))
    result = _expect(run_cli, "train", config, 4, "TrainingFailed")
    assert "champion_model" in _failure_text(result)
    assert "outside the allowlist" in _failure_text(result)
    assert "builtins.eval" in _failure_text(result)
    _no_artifacts(tmp_path)


def test_corrupt_champion(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    iris_model: Path,
    tmp_path: Path,
) -> None:
    champion = tmp_path / "champion"
    shutil.copytree(iris_model, champion)
    (champion / "model.skops").write_bytes(b"definitely not a zip file")
    result = _expect(
        run_cli, "train", make_config(iris_csv, championPath=str(champion)), 4, "TrainingFailed"
    )
    assert "not a readable skops file" in _failure_text(result)
    _no_artifacts(tmp_path)


def test_missing_champion(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
) -> None:
    config = make_config(iris_csv, championPath=str(tmp_path / "nope"))
    result = _expect(run_cli, "train", config, 4, "TrainingFailed")
    assert "cannot read" in _failure_text(result)


def test_nan_metrics(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """A holdout lacking a class makes its one-vs-rest ROC AUC NaN: that must fail, not gate."""
    iris.to_csv(tmp_path / "train.csv", index=False)
    iris[iris.species != "virginica"].to_csv(tmp_path / "eval.csv", index=False)
    config = make_config(
        tmp_path / "train.csv", evalDataset={"uri": str(tmp_path / "eval.csv"), "version": "1"}
    )
    config["schema"]["minRows"] = 1
    result = _expect(run_cli, "train", config, 4, "TrainingFailed")
    assert "roc_auc came out NaN" in _failure_text(result)
    assert "metrics" not in result or result["metrics"] == {}
    _no_artifacts(tmp_path)


def test_artifact_write_failure(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = _expect(
        run_cli, "train", make_config(iris_csv, artifactsDir=str(blocker)), 5, "ArtifactWriteFailed"
    )
    assert "not-a-dir" in _failure_text(result)


def test_training_failure(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris_csv: Path,
    tmp_path: Path,
) -> None:
    """An estimator that cannot fit this data: a clear TrainingFailed, not a crash."""
    estimator = {"className": "sklearn.naive_bayes.CategoricalNB"}  # rejects the scaled negatives
    result = _expect(
        run_cli, "train", make_config(iris_csv, estimator=estimator), 4, "TrainingFailed"
    )
    assert "CategoricalNB failed to fit" in result["message"]
    _no_artifacts(tmp_path)


def test_many_failures_fit_the_termination_message(
    run_cli: Callable[..., tuple[int, dict[str, Any]]],
    make_config: Callable[..., dict[str, Any]],
    iris: pd.DataFrame,
    tmp_path: Path,
) -> None:
    features = [{"name": f"missing_column_with_a_long_name_{i}"} for i in range(200)]
    iris.to_csv(tmp_path / "iris.csv", index=False)
    config = make_config(tmp_path / "iris.csv", schema={"target": "species", "features": features})
    result = _expect(run_cli, "validate", config, 3, "ValidationFailed")
    message = (tmp_path / "termination-log").read_bytes()
    assert len(message) <= 4096
    assert result["failuresTruncated"] > 0
    assert len(result["failures"]) + result["failuresTruncated"] == 200
