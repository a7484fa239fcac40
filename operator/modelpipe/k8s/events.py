"""The plan's Events, posted idempotently: a replayed decision is never announced twice.

Each Event's name is derived from the decision it announces: the pipeline's uid, the
status the decision was made from, its reason and its message. The executor posts the
Events before the status write that closes the decision, so an operator killed between
the two re-plans the same decision from the same status on its next pass, derives the
same names, and the apiserver's ``AlreadyExists`` drops the repeats. A later, real
recurrence is made from a different status, so it gets a new name and is told.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket

from modelpipe import metrics
from modelpipe.api.v1alpha1 import API_VERSION, KIND
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.rest import JSON
from modelpipe.observed import Observed
from modelpipe.planning import Event

logger = logging.getLogger("modelpipe.executor")
COMPONENT = "modelpipe-operator"


def event_name(observed: Observed, event: Event) -> str:
    """``<pipeline>.<digest>``: the same decision from the same status, the same name."""
    before = observed.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    key = json.dumps(
        [observed.metadata.uid, before, event.type.value, event.reason.value, event.message],
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{observed.metadata.name[:200]}.{digest}"


def post(api: KubeApi, observed: Observed, event: Event, *, now: str) -> None:
    meta = observed.metadata
    created = api.create_event(meta.namespace, event_body(observed, event, now=now))
    metrics.API_WRITES.labels(meta.namespace, "event").inc()
    if not created:
        logger.info(
            "Event %s of %s/%s was already posted", event.reason.value, meta.namespace, meta.name
        )
        return
    log = logger.warning if event.type == "Warning" else logger.info
    log("%s/%s %s: %s", meta.namespace, meta.name, event.reason.value, event.message)


def event_body(observed: Observed, event: Event, *, now: str) -> JSON:
    meta = observed.metadata
    return {
        "metadata": {"name": event_name(observed, event), "namespace": meta.namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": meta.name,
            "namespace": meta.namespace,
            "uid": meta.uid,
        },
        "reason": event.reason.value,
        "message": event.message[:1024],
        "type": event.type.value,
        "source": {"component": COMPONENT},
        "reportingComponent": f"modelpipe.io/{COMPONENT}",
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
