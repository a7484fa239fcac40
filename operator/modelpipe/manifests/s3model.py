"""Models in S3 (``spec.artifacts.s3``): the training pod's upload, the serving pods' download.

The training and serving containers may run the author's image, so neither ever sees
the keys. ``artifacts`` becomes an emptyDir in both pods, at the path the PVC had:

    training pod   [fetch-champion]  init, operator image + keys: production's model, verified
                   train             init: the trainer writes /artifacts/<pipeline>/<version>
                   upload-model      operator image + keys: every file, then manifest.json,
                                     under <base><Job uid>/ (the Job's uid from its pods' label),
                                     <base> = s3://<bucket>/<prefix>/<namespace>/<pipeline>/<version>/
    serving pod    fetch-model       init, operator image + keys: download, verify, or fail
                   serve             reads MODEL_DIR from the emptyDir

Train runs as an init container so that the upload starts only after it exited 0; a
failed or killed trainer leaves no upload to promote. The Job carries the base URI in
an annotation, so the operator records ``<base><Job uid>/`` as the run's model.
"""

from __future__ import annotations

from modelpipe.api.v1alpha1.artifacts import S3Artifacts
from modelpipe.api.v1alpha1.spec import ModelPipelineSpec
from modelpipe.layout import ARTIFACTS_MOUNT, ARTIFACTS_VOLUME
from modelpipe.manifests.common import (
    HOME_ENV,
    TMP_MOUNT,
    Manifest,
    artifacts_volume,
    container_security_context,
)

UPLOAD_CONTAINER = "upload-model"
FETCH_MODEL_CONTAINER = "fetch-model"
FETCH_CHAMPION_CONTAINER = "fetch-champion"
# On the training Job: where its run uploads, without the run id (the Job's uid).
MODEL_URI_ANNOTATION = "modelpipe.io/model-uri"
# The Job controller labels each pod with its Job's uid: the run's own prefix.
RUN_ID_LABEL = "batch.kubernetes.io/controller-uid"
MODEL_DIR_ENV = "MODELPIPE_MODEL_DIR"
MODEL_URI_ENV = "MODELPIPE_MODEL_URI"
# modelpipe-trainer upload-model exits 5 for a refused model directory: retrying cannot help.
REFUSED_EXIT = 5
_CREDENTIALS_VOLUME = "model-credentials"
_CREDENTIALS_MOUNT = "/var/run/modelpipe/model-credentials"


def store_volumes(spec: ModelPipelineSpec, *, read_only: bool) -> list[Manifest]:
    """The artifacts volume (the PVC, or an emptyDir with S3) and the keys' Secret if any."""
    s3 = spec.artifacts.s3
    if s3 is None:
        assert spec.artifacts.pvc is not None  # exactly one (admission and the model)
        return [artifacts_volume(spec.artifacts.pvc, read_only=read_only)]
    volumes: list[Manifest] = [{"name": ARTIFACTS_VOLUME, "emptyDir": {}}]
    if s3.credentials_secret:
        secret = {"secretName": s3.credentials_secret, "defaultMode": 0o440}
        volumes.append({"name": _CREDENTIALS_VOLUME, "secret": secret})
    return volumes


def upload_base(s3: S3Artifacts, *, namespace: str, pipeline: str, version: str) -> str:
    """``s3://bucket/prefix/<namespace>/<pipeline>/<version>/``; each run adds its Job's uid."""
    return f"{s3.pipeline_uri(namespace=namespace, pipeline=pipeline)}/{version}/"


def run_uri(base: str, run_id: str) -> str:
    return f"{base}{run_id}/"


def own_run_uri(
    uri: str | None, s3: S3Artifacts, *, namespace: str, pipeline: str, version: str
) -> str:
    """``uri`` if it is a run prefix of this pipeline's ``version`` in the spec's bucket, else "".

    Status is read back each pass: a prefix from anywhere else (a hand-edited status, a
    pipeline of the same name in another namespace, a model uploaded before the namespace
    was part of the path) is never handed to a container holding the keys."""
    base = upload_base(s3, namespace=namespace, pipeline=pipeline, version=version)
    run_id = (uri or "").removeprefix(base).removesuffix("/")
    ok = bool(uri) and uri != run_id and run_id and "/" not in run_id and run_id not in (".", "..")
    return run_uri(base, run_id) if ok else ""


def upload_container(s3: S3Artifacts, *, base: str, model_dir: str, image: str) -> Manifest:
    run_id = {"fieldRef": {"fieldPath": f"metadata.labels['{RUN_ID_LABEL}']"}}
    env: list[Manifest] = [
        {"name": MODEL_URI_ENV, "value": base},
        {"name": "MODELPIPE_RUN_ID", "valueFrom": run_id},
        {"name": MODEL_DIR_ENV, "value": model_dir},
    ]
    return _store_container(
        s3, UPLOAD_CONTAINER, "upload-model", env=env, image=image, writes=False
    )


def fetch_container(
    s3: S3Artifacts, *, name: str, model_uri: str, model_dir: str, image: str
) -> Manifest:
    """Download ``model_uri`` into ``model_dir`` and verify it; ``fetch-model`` fails otherwise.

    ``image`` (like ``upload_container``'s) is the operator's trainer image, never the author's."""
    env = [{"name": MODEL_URI_ENV, "value": model_uri}, {"name": MODEL_DIR_ENV, "value": model_dir}]
    return _store_container(s3, name, "fetch-model", env=env, image=image, writes=True)


def _store_container(
    s3: S3Artifacts, name: str, command: str, *, env: list[Manifest], image: str, writes: bool
) -> Manifest:
    mounts: list[Manifest] = [
        {"name": ARTIFACTS_VOLUME, "mountPath": ARTIFACTS_MOUNT, "readOnly": not writes},
        TMP_MOUNT,
    ]
    env = [*env, HOME_ENV]
    if s3.credentials_secret:
        mounts.append(
            {"name": _CREDENTIALS_VOLUME, "mountPath": _CREDENTIALS_MOUNT, "readOnly": True}
        )
        env.append({"name": "MODELPIPE_S3_CREDENTIALS_DIR", "value": _CREDENTIALS_MOUNT})
    return {
        "name": name,
        "image": image,
        "command": ["modelpipe-trainer", command],
        "env": env,
        "volumeMounts": mounts,
        # Its own messages: the S3 error code and status, never a key or a response body.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security_context(),
    }
