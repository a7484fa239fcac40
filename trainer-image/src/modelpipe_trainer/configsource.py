"""Where the run configuration comes from: ``--config FILE`` or ``MODELPIPE_RUN_CONFIG``.

The operator renders the config as a JSON file (a ConfigMap mounted read-only, passed
with ``--config``: an environment variable over 128 KiB cannot be exec'd); people
running the trainer by hand usually prefer a YAML file or the variable. Both go through
the same pydantic model, and every problem is reported at once as a list of failures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from modelpipe_contract.result import Outcome, ValidationFailure
from modelpipe_contract.runconfig import CONFIG_ENV, RepoTrainingConfig, RunConfig
from pydantic import ValidationError

from modelpipe_trainer.errors import TrainerError, failure

# modelVersion becomes a directory name under artifactsDir, so it must be one path segment.
_SAFE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def load_run_config(*, path: str | None, environ: Mapping[str, str]) -> RunConfig:
    """Read, parse and validate the config; raise ``TrainerError(INVALID_CONFIG)``."""
    document = _read_document(path=path, environ=environ)
    try:
        config = RunConfig.model_validate(document)
    except ValidationError as exc:
        raise _invalid("the run configuration is invalid", _pydantic_failures(exc)) from None
    if not _SAFE_VERSION.fullmatch(config.model_version):
        raise _invalid(
            "the run configuration is invalid",
            [
                failure(
                    "config",
                    f"modelVersion {config.model_version!r} must be one path segment of "
                    "letters, digits, '.', '_' or '-' (it names the model directory)",
                    "modelVersion",
                )
            ],
        )
    if config.training_config_path:
        config = _with_repo_estimator(config, config.training_config_path)
    return config


def _with_repo_estimator(config: RunConfig, path: str) -> RunConfig:
    """The config with the estimator from the repository's training config file.

    The file must lie inside the checkout once symlinks are followed: a link to
    ``/etc/...`` or a mounted Secret is refused (issue 16).
    """
    if not _inside_checkout(Path(path)):
        raise _invalid(f"the training config {path} is a link out of the repository; refused")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _invalid(
            f"cannot read the training config {path} from the repository: {exc}"
        ) from None
    try:
        repo = RepoTrainingConfig.model_validate(_parse(text, source=path, yaml_allowed=True))
    except ValidationError as exc:
        raise _invalid(
            f"the training config {path} from the repository is invalid", _pydantic_failures(exc)
        ) from None
    estimator = config.estimator.model_copy(
        update={"class_path": repo.estimator.class_path, "params": repo.estimator.params}
    )
    return config.model_copy(update={"estimator": estimator})


def _inside_checkout(path: Path) -> bool:
    """``path`` resolves under its repository's top directory (the nearest one with .git)."""
    root = next((d for d in path.parents if (d / ".git").exists()), path.parent)
    return path.resolve().is_relative_to(root.resolve())


def _read_document(*, path: str | None, environ: Mapping[str, str]) -> Any:
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _invalid(f"cannot read config file {path}: {exc}") from None
        return _parse(text, source=path, yaml_allowed=True)
    env_text = environ.get(CONFIG_ENV)
    if env_text is None:
        raise _invalid(f"no run configuration: pass --config FILE or set {CONFIG_ENV} (JSON)")
    return _parse(env_text, source=CONFIG_ENV, yaml_allowed=False)


def _parse(text: str, *, source: str, yaml_allowed: bool) -> Any:
    try:
        if yaml_allowed and not source.endswith(".json"):
            # YAML is a superset of JSON, so one parser serves both file kinds.
            return yaml.safe_load(text)
        return json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        # Only where: the parsers quote the offending line, which may hold a secret.
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno})"
        else:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        kind = "YAML" if yaml_allowed else "JSON"
        raise _invalid(f"{source} is not valid {kind}{where}") from None


def _pydantic_failures(exc: ValidationError) -> list[ValidationFailure]:
    out = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or None
        out.append(failure("config", f"{where or 'config'}: {error['msg']}", where))
    return out


def _invalid(message: str, failures: list[ValidationFailure] | None = None) -> TrainerError:
    return TrainerError(Outcome.INVALID_CONFIG, message, failures or [])
