"""Loading a model directory: the skops model checked against the allowlist and, when the
directory has one, against its manifest (models trained before the manifest have none), plus
its documents.

The same loader serves ``serve`` and the champion evaluation, because both read a
directory someone else wrote and must refuse anything they cannot vouch for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline

from modelpipe_trainer.documents import (
    LINEAGE_FILE,
    MODEL_FILE,
    SCHEMA_FILE,
    Lineage,
    ModelSchema,
)
from modelpipe_trainer.errors import ModelRejectedError
from modelpipe_trainer.manifest import MANIFEST_FILE
from modelpipe_trainer.modeldir import read_document, verify
from modelpipe_trainer.trust import refused_types


@dataclass(frozen=True)
class ModelBundle:
    path: Path
    model: Pipeline
    schema: ModelSchema
    lineage: Lineage


def load_bundle(model_dir: Path, *, extra_prefixes: Sequence[str] = ()) -> ModelBundle:
    """Load and check a model directory; raise ``ModelRejectedError`` saying what is wrong."""
    if not model_dir.is_dir():
        raise ModelRejectedError(f"{model_dir} is not a directory")
    schema = read_document(model_dir / SCHEMA_FILE, ModelSchema)
    lineage = read_document(model_dir / LINEAGE_FILE, Lineage)
    model = load_model(model_dir / MODEL_FILE, extra_prefixes=extra_prefixes)
    return ModelBundle(path=model_dir, model=model, schema=schema, lineage=lineage)


def load_model(path: Path, *, extra_prefixes: Sequence[str] = ()) -> Pipeline:
    """The Pipeline in a skops file, built only from allowlisted types and, when its
    directory has a manifest, only from the bytes the trainer wrote: a file whose types
    pass the allowlist can still hold other coefficients."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelRejectedError(f"cannot read {path}: {exc.strerror or exc}") from None
    untrusted = _untrusted_types(data, path)
    refused = refused_types(untrusted, extra_prefixes=extra_prefixes)
    if refused:
        raise ModelRejectedError(
            f"{path} holds types outside the allowlist, so it was not loaded "
            f"(tampered, or written by an unexpected library): {', '.join(refused)}"
        )
    if (path.parent / MANIFEST_FILE).exists():
        verify(path.parent, path.name, data)
    model = _load(data, path, trusted=untrusted)
    if not isinstance(model, Pipeline):
        raise ModelRejectedError(
            f"{path} holds a {type(model).__name__}, not the scikit-learn Pipeline "
            "the trainer writes"
        )
    return model


def _untrusted_types(data: bytes, path: Path) -> list[str]:
    try:
        return list(sio.get_untrusted_types(data=data))
    except Exception as exc:  # any parse error means "not a skops file"
        raise ModelRejectedError(f"{path} is not a readable skops file: {_describe(exc)}") from None


def _load(data: bytes, path: Path, *, trusted: list[str]) -> Any:
    try:
        return sio.loads(data, trusted=trusted)
    except Exception as exc:  # a corrupt file can fail in any constructor
        raise ModelRejectedError(f"{path} could not be loaded: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def serialize_model(model: Pipeline, *, extra_prefixes: Sequence[str] = ()) -> bytes:
    """The skops bytes of a fitted model, checked to be loadable by :func:`load_model`.

    A model that the server would refuse is caught here, at training time, rather
    than when a Deployment crash-loops on it.
    """
    data: bytes = sio.dumps(model)
    refused = refused_types(sio.get_untrusted_types(data=data), extra_prefixes=extra_prefixes)
    if refused:
        raise ModelRejectedError(
            f"the trained model holds types the server would refuse: {', '.join(refused)}"
        )
    return data
