"""A ``pvc://`` dataset's manifests: the hash Job that versions it, the claim mounted for training.

The operator cannot read a PVC itself (it would have to mount every claim), so a
check is a Job that mounts the claim read-only, hashes the file (or every file
under a directory, by relative path), and writes one JSON line to its
termination message. The operator reads it from the pod's status like the
trainer's result. The Job is bounded in time (``activeDeadlineSeconds``), is not
retried (``backoffLimit: 0``), cleans itself up (``ttlSecondsAfterFinished``),
and meets Pod Security "restricted".

The dataset is named ``pvc://<claim>/<path>`` (the path relative to the claim's
root). Each check's name is deterministic — the pipeline, the source and the
check's time slot — so an operator restart adopts a running check instead of
starting another. The pipeline owns it and its ``modelpipe.io/pipeline`` label
brings its completion to the operator's Job watch.

Alternative considered: a sidecar next to serving that watches the files. It
reacts faster but runs forever for a check that is needed once an interval, and
it only exists where serving shares the claim. The Job is the simpler contract.

Training: the trainer reads ``file://`` URIs and plain paths and knows nothing of
claims, so the operator mounts the claim read-only into the train container and
hands the trainer the path inside the mount: training reads the very bytes the
hash Job hashed. A dataset on the artifacts claim itself uses that claim's mount,
so the pod never mounts one claim twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from modelpipe.api.pvcdata import parse_uri
from modelpipe.layout import ARTIFACTS_MOUNT, MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL
from modelpipe.manifests.common import Manifest

MOUNT = "/data"
RESULT_PATH = "/dev/termination-log"
# On every hash Job: which source it checks (a digest of pipeline, claim and path) and
# its slot. The first tells hash Jobs from training Jobs of the same pipeline.
LABEL_SOURCE = "modelpipe.io/source-hash"
LABEL_SLOT = "modelpipe.io/check-slot"
CONTAINER = "hash"
DATASET_MOUNT = "/dataset"
DATASET_VOLUME = "dataset"
# A short shell script, so it runs in any image with coreutils (the trainer image has them).
# Exit 3: the path does not exist. The result is JSON on the termination log.
HASH_SCRIPT = r"""set -eu
cd "$MOUNT"
t="$TARGET"
if [ -d "$t" ]; then
  n=$(cd "$t" && find . -type f | wc -l)
  h=$(cd "$t" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum \
      | sha256sum | cut -d' ' -f1)
  printf '{"kind":"directory","files":%d,"sha256":"%s"}' "$n" "$h" > "$RESULT"
elif [ -f "$t" ]; then
  s=$(wc -c < "$t")
  h=$(sha256sum < "$t" | cut -d' ' -f1)
  printf '{"kind":"file","bytes":%d,"sha256":"%s"}' "$s" "$h" > "$RESULT"
else
  printf '{"error":"no such file or directory on the claim"}' > "$RESULT"
  exit 3
fi
"""


@dataclass(frozen=True)
class HashCheck:
    namespace: str
    pipeline: str
    claim: str
    path: str
    image: str
    slot: int  # e.g. floor(now / pollInterval): one check per interval
    deadline_seconds: int = 600
    owner: dict[str, Any] | None = None  # an ownerReference, usually the pipeline


def source_id(*, pipeline: str, claim: str, path: str) -> str:
    """A short digest naming what one pipeline checks, for Job names and a label."""
    return hashlib.sha256(f"{pipeline}\0{claim}\0{path}".encode()).hexdigest()[:10]


def job_name(*, pipeline: str, claim: str, path: str, slot: int) -> str:
    return f"mp-datahash-{source_id(pipeline=pipeline, claim=claim, path=path)}-{slot % 10**8}"


def build_job(check: HashCheck) -> dict[str, Any]:
    source = source_id(pipeline=check.pipeline, claim=check.claim, path=check.path)
    metadata: dict[str, Any] = {
        "name": job_name(
            pipeline=check.pipeline, claim=check.claim, path=check.path, slot=check.slot
        ),
        "namespace": check.namespace,
        "labels": {
            PIPELINE_LABEL: check.pipeline,
            LABEL_SOURCE: source,
            LABEL_SLOT: str(check.slot),
            MANAGED_BY_LABEL: MANAGED_BY,
        },
    }
    if check.owner is not None:
        metadata["ownerReferences"] = [check.owner]
    container = {
        "name": CONTAINER,
        "image": check.image,
        "command": ["sh", "-c", HASH_SCRIPT],
        "env": [
            {"name": "MOUNT", "value": MOUNT},
            {"name": "TARGET", "value": check.path},
            {"name": "RESULT", "value": RESULT_PATH},
        ],
        "volumeMounts": [{"name": "data", "mountPath": MOUNT, "readOnly": True}],
        "terminationMessagePath": RESULT_PATH,
        "terminationMessagePolicy": "File",
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }
    pod_spec = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": check.claim, "readOnly": True}}
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": check.deadline_seconds,
            "ttlSecondsAfterFinished": 300,
            "template": {"metadata": {"labels": metadata["labels"]}, "spec": pod_spec},
        },
    }


def trainer_uri(uri: str, *, artifacts_pvc: str | None) -> str:
    """The URI the trainer opens: a path inside the pod for ``pvc://``, else ``uri`` itself."""
    parsed = parse_uri(uri)
    if parsed is None:
        return uri
    claim, path = parsed
    root = ARTIFACTS_MOUNT if claim == artifacts_pvc else DATASET_MOUNT
    return f"{root}/{path}"


def dataset_claim(uri: str, *, artifacts_pvc: str | None) -> tuple[Manifest, Manifest] | None:
    """The read-only volume and mount a ``pvc://`` dataset needs, or None."""
    parsed = parse_uri(uri)
    if parsed is None or parsed[0] == artifacts_pvc:
        return None
    volume = {
        "name": DATASET_VOLUME,
        "persistentVolumeClaim": {"claimName": parsed[0], "readOnly": True},
    }
    return volume, {"name": DATASET_VOLUME, "mountPath": DATASET_MOUNT, "readOnly": True}
