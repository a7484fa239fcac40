"""A dataset on a PVC, versioned by a content hash that a short, bounded Job computes — pure.

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
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from modelpipe.layout import MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL
from modelpipe.sources.model import ErrorReason, Observation

SCHEME = "pvc"
MOUNT = "/data"
RESULT_PATH = "/dev/termination-log"
# On every hash Job: which source it checks (a digest of pipeline, claim and path) and
# its slot. The first tells hash Jobs from training Jobs of the same pipeline.
LABEL_SOURCE = "modelpipe.io/source-hash"
LABEL_SLOT = "modelpipe.io/check-slot"
CONTAINER = "hash"
_CLAIM_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
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


def check_path(path: str) -> str | None:
    """A problem with a path inside a claim, or None."""
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts:
        return f"path {path!r} must be relative to the claim and must not contain '..'"
    return None


def parse_uri(uri: str) -> tuple[str, str] | None:
    """``pvc://<claim>/<path>`` as (claim, path); None for any other scheme."""
    prefix = f"{SCHEME}://"
    if not uri.startswith(prefix):
        return None
    claim, _, path = uri[len(prefix) :].partition("/")
    return claim, path


def uri_problem(uri: str) -> str | None:
    """What is wrong with a ``pvc://`` URI, for the user; None when usable."""
    parsed = parse_uri(uri)
    if parsed is None:
        return None
    claim, path = parsed
    if not _CLAIM_NAME.fullmatch(claim):
        return f"{uri!r}: {claim!r} is not a PersistentVolumeClaim name; use pvc://<claim>/<path>"
    return check_path(path)


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


def parse_result(message: str | None, *, exit_code: int | None) -> Observation:
    """Turn the hash container's termination message into an observation."""
    try:
        document = json.loads(message or "")
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        return Observation.failed(ErrorReason.SERVER_ERROR, f"hash Job left no result{code}")
    if "error" in document:
        return Observation.failed(ErrorReason.NOT_FOUND, str(document["error"])[:200])
    digest = document.get("sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        return Observation.failed(ErrorReason.SERVER_ERROR, "hash Job wrote no sha256")
    return Observation(value=f"sha256:{digest}")


def result_from(job: dict[str, Any], pods: list[dict[str, Any]]) -> Observation | None:
    """The check's outcome from the Job and its pods as read from the API; None while running."""
    status = job.get("status") or {}
    finished = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    if not finished & {"Complete", "Failed"}:
        return None
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if container.get("name") == CONTAINER and terminated:
                return parse_result(terminated.get("message"), exit_code=terminated.get("exitCode"))
    if "Failed" in finished:
        return Observation.failed(ErrorReason.TIMEOUT, "hash Job failed or passed its deadline")
    return Observation.failed(ErrorReason.SERVER_ERROR, "hash Job completed without a pod result")
