"""The ``fetch-data`` init container: a run's s3:// datasets, downloaded before training.

The training container may run the author's image, so it never sees the keys: the
dataset's ``credentialsSecret`` is mounted as files into this container only, which
runs the operator's trainer image (``modelpipe-trainer fetch-s3``,
``modelpipe_trainer.objectfetch``). The objects land in an emptyDir that the
training container reads; its run config names the local files. The gatherer has
already checked that the Secret opted in for both URIs.
"""

from __future__ import annotations

import json
import posixpath

from modelpipe.api.s3data import parse_s3_uri
from modelpipe.api.v1alpha1.dataset import DEFAULT_MAX_BYTES
from modelpipe.api.v1alpha1.spec import ModelPipelineSpec
from modelpipe.manifests.common import (
    HOME_ENV,
    TMP_MOUNT,
    Manifest,
    container_security_context,
)

FETCH_CONTAINER = "fetch-data"
DATA_VOLUME = "s3-data"
DATA_MOUNT = "/var/run/modelpipe/s3-data"
CREDENTIALS_VOLUME = "s3-credentials"
CREDENTIALS_MOUNT = "/var/run/modelpipe/s3-credentials"
TRAIN, EVALUATION = "train", "evaluation"


def local_uri(uri: str, *, role: str) -> str:
    """Where the training container reads an s3:// object (its name kept, for the format)."""
    location = parse_s3_uri(uri)
    if location is None:
        return uri
    return f"{DATA_MOUNT}/{role}/{posixpath.basename(location.key)}"


def fetch_parts(
    spec: ModelPipelineSpec, *, dataset_uri: str, dataset_version: str, image: str
) -> tuple[list[Manifest], Manifest, Manifest] | None:
    """Volumes, the training container's mount and the init container; None without s3://.

    ``image`` is the operator's trainer image (``OperatorConfig.trainer_image``).
    """
    data = spec.dataset
    limit = data.max_bytes or DEFAULT_MAX_BYTES
    wanted = [(dataset_uri, dataset_version, TRAIN)]
    if data.evaluation is not None:
        wanted.append((data.evaluation.uri, data.evaluation.version, EVALUATION))
    objects = [
        {"uri": uri, "version": version, "path": local_uri(uri, role=role), "max_bytes": limit}
        for uri, version, role in wanted
        if parse_s3_uri(uri) is not None
    ]
    if not objects:
        return None
    volumes: list[Manifest] = [{"name": DATA_VOLUME, "emptyDir": {}}]
    # TMP_MOUNT: the Job's pod has the /tmp emptyDir (manifests/job.py); the root is read-only.
    mounts: list[Manifest] = [{"name": DATA_VOLUME, "mountPath": DATA_MOUNT}, TMP_MOUNT]
    env: list[Manifest] = [
        {"name": "MODELPIPE_FETCH_OBJECTS", "value": json.dumps(objects, sort_keys=True)},
        HOME_ENV,
    ]
    if data.credentials_secret:
        volumes.append(
            {
                "name": CREDENTIALS_VOLUME,
                "secret": {"secretName": data.credentials_secret, "defaultMode": 0o440},
            }
        )
        mounts.append(
            {"name": CREDENTIALS_VOLUME, "mountPath": CREDENTIALS_MOUNT, "readOnly": True}
        )
        env.append({"name": "MODELPIPE_S3_CREDENTIALS_DIR", "value": CREDENTIALS_MOUNT})
    container: Manifest = {
        "name": FETCH_CONTAINER,
        "image": image,
        "command": ["modelpipe-trainer", "fetch-s3"],
        "env": env,
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security_context(),
    }
    read_only = {"name": DATA_VOLUME, "mountPath": DATA_MOUNT, "readOnly": True}
    return volumes, read_only, container
