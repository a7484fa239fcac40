"""kopf handlers: thin glue from watch events to ``Reconciler.reconcile``.

Persistence is chosen so GitOps tools see no drift and no finalizers appear:

- diff base as a digest in ``status.kopf.lastHandledDigest`` (k8s/diffbase.py, which also
  retires the older whole-spec copy): Argo CD does not compare a custom resource's status,
  while kopf's default annotation (``kopf.zalando.org/last-handled-configuration``) is a
  metadata change on an object Argo CD owns;
- handler progress in ``status.kopf.progress`` (StatusProgressStorage), written only while
  a handler is being retried after an error;
- no delete handlers, timers or daemons, hence no kopf finalizer on ModelPipelines.

Metadata edits still reach ``on.update`` (kopf diffs labels and annotations), but the
reconcile is level-triggered and the input hash ignores metadata other than
``modelpipe.io/retrain``, so an Argo CD tracking annotation never retrains.

Jobs and Deployments are watched through a server-side label selector
(``modelpipe.io/pipeline``), so the operator never streams every Job in the cluster.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelpipe.api.config import UNCONFIGURED
from modelpipe.api.v1alpha1 import GROUP, PLURAL, VERSION
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.diffbase import diffbase_storage
from modelpipe.k8s.jobevents import JobEvents
from modelpipe.k8s.reconciler import Reconciler
from modelpipe.k8s.rest import Rest, connect
from modelpipe.layout import PIPELINE_LABEL
from modelpipe.metrics import count_retry

logger = logging.getLogger("modelpipe.handlers")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.diffbase_storage = diffbase_storage()
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.finalizer = (
        "modelpipe.io/kopf-finalizer"  # never added: no delete handlers
    )
    settings.watching.label_selectors["batch", "jobs"] = PIPELINE_LABEL
    settings.watching.label_selectors["apps", "deployments"] = PIPELINE_LABEL
    settings.posting.level = logging.WARNING  # our own Events describe decisions
    # The namespaces (or the whole cluster) are given on the command line, and the
    # CRD is installed before us; scanning would need list/watch on namespaces and
    # CRDs, which least-privilege RBAC does not grant (kopf then stalls ~54 s).
    settings.scanning.disabled = True
    # Handlers are sync and mostly wait on the API (~6 reads and ~3 writes a pass), so
    # threads, not CPU, bound a burst: with 4, ten pipelines changed at once waited ~1 s
    # for their Jobs (benchmarks/operator).
    settings.execution.max_workers = 16
    memo.job_events = JobEvents()  # Job events that change nothing plan() reads cost no pass
    memo.reconciler = Reconciler(
        KubeApi(Rest(connect(), on_retry=count_retry)),
        follow_sources=True,
        send_notifications=True,
        source_limits=memo.get("source_limits"),
        training_limits=memo.get("training_limits"),
        namespaces=memo.get("namespaces"),
        config=memo.get("config", UNCONFIGURED),
    )


@kopf.on.cleanup()
def stop(memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.stop()


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def pipeline_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.reconcile(namespace or "default", name)


@kopf.on.event(GROUP, VERSION, PLURAL)
def pipeline_event(type: str, namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        memo.reconciler.forget(namespace or "default", name)


@kopf.on.event("batch", "v1", "jobs", labels={PIPELINE_LABEL: kopf.PRESENT})
def job_event(
    type: str | None,
    body: kopf.Body,
    namespace: str | None,
    labels: kopf.Labels,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    deleted = type == "DELETED"
    if memo.job_events.worth_a_pass(namespace=namespace or "", body=dict(body), deleted=deleted):
        memo.reconciler.reconcile(namespace or "default", labels[PIPELINE_LABEL])


@kopf.on.event("apps", "v1", "deployments", labels={PIPELINE_LABEL: kopf.PRESENT})
def deployment_event(namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.reconcile(namespace or "default", labels[PIPELINE_LABEL])
