"""MLServer with mlserver-sklearn, in a throwaway venv, serving the trainer's skops model.

mlserver-sklearn's ``SKLearnModel.load`` reads ``model.joblib`` (pickle), which this
project never writes or loads. The runtime written here subclasses ``SKLearnModel`` and
overrides only ``load``: it reads the model directory's ``model.skops`` with
``skops.io.load`` trusting exactly the types the trainer's allowlist passed
(``modelpipe_trainer.trust``), checked by this process before MLServer starts. Everything
after loading, i.e. MLServer's REST server, V2 parsing, the pandas request codec,
``predict`` and the response encoding, is MLServer's own.

Settings: loopback only, inference in the server process (``parallel_workers: 0``; one
worker process adds an IPC hop to every request), gRPC and metrics on spare ports, no
metrics endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import skops.io as sio

from modelpipe_trainer.trust import refused_types

PACKAGES = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"]
RUNTIME = '''
import skops.io as sio
from mlserver_sklearn import SKLearnModel


class SkopsSKLearnModel(SKLearnModel):
    """SKLearnModel reading the trainer's skops file; no joblib, no pickle."""

    async def load(self) -> bool:
        extra = self.settings.parameters.extra
        self._model = sio.load(extra["skops_path"], trusted=extra["trusted_types"])
        return True
'''


def install(root: Path, *, pins: dict[str, str]) -> Path | str:
    """The venv's python, or why MLServer could not be installed (the caller skips it).

    ``pins`` holds the versions of scikit-learn, skops and numpy the model was trained
    with, so MLServer runs the same library code on the same fitted state.
    """
    venv = root / "venv"
    python = venv / "bin" / "python"
    wanted = [*PACKAGES, *(f"{name}=={version}" for name, version in pins.items())]
    steps = [
        ["uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
        ["uv", "pip", "install", "--quiet", "--python", str(python), *wanted],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{step[:3]} failed: {exc}"
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            return f"{' '.join(step[:3])} exited {done.returncode}: {lines[-1] if lines else ''}"
    return python


def configure(root: Path, model_dir: Path, *, port: int) -> Path:
    """An MLServer folder (settings, model settings, runtime) for ``model_dir``'s model."""
    path = model_dir / "model.skops"
    trusted = sorted(set(sio.get_untrusted_types(file=path)))
    refused = refused_types(trusted)
    if refused:
        raise RuntimeError(f"{path} holds types outside the trainer's allowlist: {refused}")
    folder = root / "models"
    folder.mkdir(parents=True)
    (folder / "skops_runtime.py").write_text(RUNTIME)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": port + 1,
        "metrics_port": port + 2,
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
    }
    model = {
        "name": "bench",
        "implementation": "skops_runtime.SkopsSKLearnModel",
        "parameters": {"extra": {"skops_path": str(path), "trusted_types": trusted}},
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    (folder / "model-settings.json").write_text(json.dumps(model))
    return folder


def command(python: Path, folder: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment for ``mlserver start`` on ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    env.pop("VIRTUAL_ENV", None)
    return [str(python.parent / "mlserver"), "start", str(folder)], env
