"""A ``pvc://<claim>/<path>`` dataset in the training pod: the claim mounted, a path for training.

The trainer reads ``file://`` URIs and plain paths, and knows nothing of claims, so
the operator mounts the claim read-only into the train container and hands the
trainer the path inside the mount: training reads the very bytes the hash Job
hashed. A dataset on the artifacts claim itself uses that claim's mount, so the
pod never mounts one claim twice.
"""

from __future__ import annotations

from modelpipe.layout import ARTIFACTS_MOUNT
from modelpipe.manifests.common import Manifest
from modelpipe.sources.pvc import parse_uri

DATASET_MOUNT = "/dataset"
DATASET_VOLUME = "dataset"


def trainer_uri(uri: str, *, artifacts_pvc: str) -> str:
    """The URI the trainer opens: a path inside the pod for ``pvc://``, else ``uri`` itself."""
    parsed = parse_uri(uri)
    if parsed is None:
        return uri
    claim, path = parsed
    root = ARTIFACTS_MOUNT if claim == artifacts_pvc else DATASET_MOUNT
    return f"{root}/{path}"


def dataset_claim(uri: str, *, artifacts_pvc: str) -> tuple[Manifest, Manifest] | None:
    """The read-only volume and mount a ``pvc://`` dataset needs, or None."""
    parsed = parse_uri(uri)
    if parsed is None or parsed[0] == artifacts_pvc:
        return None
    volume = {
        "name": DATASET_VOLUME,
        "persistentVolumeClaim": {"claimName": parsed[0], "readOnly": True},
    }
    return volume, {"name": DATASET_VOLUME, "mountPath": DATASET_MOUNT, "readOnly": True}
