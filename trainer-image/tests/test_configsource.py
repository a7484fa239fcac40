"""Reading the run config: file (JSON/YAML), env, and every problem reported at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelpipe_contract.result import Outcome

from modelpipe_trainer.configsource import load_run_config
from modelpipe_trainer.errors import TrainerError


def test_reads_yaml_file(tmp_path: Path, make_config: Callable[..., dict[str, Any]]) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(make_config("/data/iris.csv")))
    config = load_run_config(path=str(path), environ={})
    assert config.dataset.uri == "/data/iris.csv"
    assert config.estimator.class_path == "sklearn.linear_model.LogisticRegression"


def test_reads_json_from_env(make_config: Callable[..., dict[str, Any]]) -> None:
    env = {"MODELPIPE_RUN_CONFIG": json.dumps(make_config("/data/iris.csv"))}
    assert load_run_config(path=None, environ=env).model_version == "v1"


def test_file_wins_over_env(tmp_path: Path, make_config: Callable[..., dict[str, Any]]) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(make_config("/from/file.csv")))
    env = {"MODELPIPE_RUN_CONFIG": json.dumps(make_config("/from/env.csv"))}
    assert load_run_config(path=str(path), environ=env).dataset.uri == "/from/file.csv"


@pytest.mark.parametrize(
    ("path", "env", "expected"),
    [
        (None, {}, "no run configuration"),
        ("/nonexistent/run.yaml", {}, "cannot read config file"),
        (None, {"MODELPIPE_RUN_CONFIG": "{not json"}, "not valid JSON"),
    ],
)
def test_unreadable_config_is_invalid_config(
    path: str | None, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(TrainerError) as caught:
        load_run_config(path=path, environ=env)
    assert caught.value.outcome is Outcome.INVALID_CONFIG
    assert expected in caught.value.message


def test_every_schema_error_is_listed(make_config: Callable[..., dict[str, Any]]) -> None:
    config = make_config("/d.csv", seed="seven", testSize=2)
    del config["estimator"]
    with pytest.raises(TrainerError) as caught:
        load_run_config(path=None, environ={"MODELPIPE_RUN_CONFIG": json.dumps(config)})
    fields = {f.column for f in caught.value.failures}
    assert {"seed", "testSize", "estimator"} <= fields


@pytest.mark.parametrize("version", ["../escape", "a/b", ".hidden", ""])
def test_model_version_must_be_one_path_segment(
    make_config: Callable[..., dict[str, Any]], version: str
) -> None:
    env = {"MODELPIPE_RUN_CONFIG": json.dumps(make_config("/d.csv", modelVersion=version))}
    with pytest.raises(TrainerError) as caught:
        load_run_config(path=None, environ=env)
    assert caught.value.outcome is Outcome.INVALID_CONFIG


def _with_repo_file(
    make_config: Callable[..., dict[str, Any]], tmp_path: Path, text: str
) -> dict[str, str]:
    (tmp_path / "train.yaml").write_text(text)
    config = make_config("/d.csv", trainingConfigPath=str(tmp_path / "train.yaml"))
    return {"MODELPIPE_RUN_CONFIG": json.dumps(config)}


def test_repo_training_config_replaces_the_estimator(
    tmp_path: Path, make_config: Callable[..., dict[str, Any]]
) -> None:
    env = _with_repo_file(
        make_config,
        tmp_path,
        "estimator:\n  className: sklearn.tree.DecisionTreeClassifier\n  params: {max_depth: 3}\n",
    )
    config = load_run_config(path=None, environ=env)
    assert config.estimator.class_path == "sklearn.tree.DecisionTreeClassifier"
    assert config.estimator.params == {"max_depth": 3}
    assert config.estimator.allowed_prefixes == ["sklearn."]  # not the repository's to widen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "cannot read the training config"),
        ("estimator: [", "is not valid YAML"),
        ("estimator: {params: {}}", "is invalid"),
        (
            "estimator: {className: x.Y, allowedPrefixes: ['']}",
            "is invalid",
        ),
    ],
    ids=["missing", "not-yaml", "no-class", "widens-allowlist"],
)
def test_bad_repo_training_config_is_invalid_config(
    tmp_path: Path, make_config: Callable[..., dict[str, Any]], text: str | None, expected: str
) -> None:
    if text is None:
        config = make_config("/d.csv", trainingConfigPath=str(tmp_path / "absent.yaml"))
        env = {"MODELPIPE_RUN_CONFIG": json.dumps(config)}
    else:
        env = _with_repo_file(make_config, tmp_path, text)
    with pytest.raises(TrainerError) as caught:
        load_run_config(path=None, environ=env)
    assert caught.value.outcome is Outcome.INVALID_CONFIG
    assert expected in caught.value.message


# ----- issue 16: the repository's config file stays inside the checkout, errors say where --

PASSWORD = "hunter2-db-password"
DSN = f"database_url: postgres://admin:{PASSWORD}@db.internal:5432/prod"


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / ".git").mkdir(parents=True)
    (root / "conf").mkdir()
    return root


def _load(make_config: Any, config_path: Path) -> TrainerError:
    document = make_config("/data/iris.csv") | {"trainingConfigPath": str(config_path)}
    with pytest.raises(TrainerError) as raised:
        load_run_config(path=None, environ={"MODELPIPE_RUN_CONFIG": json.dumps(document)})
    assert raised.value.outcome is Outcome.INVALID_CONFIG
    return raised.value


def test_config_file_may_not_link_out_of_the_checkout(tmp_path: Path, make_config: Any) -> None:
    outside = tmp_path / "mounted-secret.yaml"
    outside.write_text(f"estimator: [\n{DSN}\n")
    root = _checkout(tmp_path)
    (root / "conf" / "train.yaml").symlink_to(outside)
    error = _load(make_config, root / "conf" / "train.yaml")
    assert "link out of the repository" in str(error) and PASSWORD not in str(error)


def test_a_link_inside_the_checkout_still_works(tmp_path: Path, make_config: Any) -> None:
    root = _checkout(tmp_path)
    (root / "real.yaml").write_text(
        "estimator: {className: sklearn.tree.DecisionTreeClassifier, params: {max_depth: 2}}\n"
    )
    (root / "conf" / "train.yaml").symlink_to(root / "real.yaml")
    document = make_config("/data/iris.csv") | {
        "trainingConfigPath": str(root / "conf" / "train.yaml")
    }
    config = load_run_config(path=None, environ={"MODELPIPE_RUN_CONFIG": json.dumps(document)})
    assert config.estimator.class_path == "sklearn.tree.DecisionTreeClassifier"


def test_a_yaml_error_says_where_not_what(tmp_path: Path, make_config: Any) -> None:
    root = _checkout(tmp_path)
    (root / "conf" / "train.yaml").write_text(f"estimator: {{\n  {DSN}\n  : [\n")
    error = _load(make_config, root / "conf" / "train.yaml")
    text = str(error) + repr(error.failures)
    assert "is not valid YAML (line" in text and PASSWORD not in text and "postgres" not in text
