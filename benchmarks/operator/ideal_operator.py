"""The least a kopf operator can do per change: the bound ``ideal.py`` measures.

``kopf run`` loads this file. On a ModelPipeline's update it POSTs one suspended Job,
labelled and annotated as modelpipe's operator labels its Jobs (so the bench's watch
times it the same way), through the same client (``modelpipe.k8s.rest``) and as many
handler threads. It reads nothing, writes no status and posts no Events; kopf keeps its
own diff base (one PATCH of an annotation per change), without which it cannot tell an
update from a resume. Nothing modelpipe's operator does per change can be cheaper than
this, so its burst is what a kopf operator could reach on this machine.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from benchmarks.operator.fleet import CODE_REVISION, floor_job

from modelpipe.k8s.rest import ApiError, Rest, connect
from modelpipe.layout import PIPELINE_LABEL


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.WARNING  # no Events, as said above
    settings.scanning.disabled = True
    settings.execution.max_workers = 16  # as modelpipe's handlers.py
    memo.rest = Rest(connect())


@kopf.on.create("modelpipe.io", "v1alpha1", "modelpipelines")
def created(**_: Any) -> None:
    """Nothing: the bench waits for kopf's diff base, so every later change is an update."""


@kopf.on.update("modelpipe.io", "v1alpha1", "modelpipelines")
def changed(namespace: str | None, name: str, spec: kopf.Spec, memo: kopf.Memo, **_: Any) -> None:
    revision = str(spec["code"]["revision"])
    job = floor_job(f"{name}-{revision}")
    job["metadata"]["labels"] = {PIPELINE_LABEL: name, "bench": "ideal"}
    job["metadata"]["annotations"] = {CODE_REVISION: revision}
    try:
        path = f"/apis/batch/v1/namespaces/{namespace or 'default'}/jobs"
        memo.rest.request("POST", path, body=job)
    except ApiError as error:
        if error.status != 409:  # a retried handler whose first POST went through
            raise
