"""``spec.artifacts``: where models live, a PVC or a bucket (exactly one).

A PVC is mounted by training and serving pods: ReadWriteOnce ties every serving
replica to the node that trained, so more than one node needs ReadWriteMany. With
``s3`` the training pod uploads the model under a prefix of its own run and the
serving pods download and verify it, so they run on any node (docs/operator.md).
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from modelpipe.api.v1alpha1._base import OBJECT_NAME_PATTERN, SpecModel, cel, validations

# S3's bucket naming rules (lower case, 3-63, no leading or trailing dot or dash).
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# Key segments of letters, digits and ._- ; no empty, '.' or '..' segment, no leading '/'.
# Empty is the bucket's root.
PREFIX_PATTERN = r"^([A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*)?$"
EXACTLY_ONE = (
    "set exactly one of artifacts.pvc (a PersistentVolumeClaim) or artifacts.s3 (a bucket)"
)
NEEDS_TEMPLATE = (
    "artifacts.s3 needs serving.template: the operator adds the init container that "
    "downloads and verifies the model to the Deployment it creates, not to your own "
    "(serving.deploymentName)"
)


class S3Artifacts(SpecModel):
    """A bucket for the models, each run under <prefix>/<namespace>/<pipeline>/<version>/<run>/.

    The namespace keeps two pipelines of one name apart in a shared bucket, and lets a
    Secret's url-prefixes hold one namespace to its own part of the bucket.
    """

    bucket: str = Field(
        min_length=3, max_length=63, pattern=BUCKET_PATTERN, description="S3 bucket name."
    )
    prefix: str = Field(
        default="",
        max_length=512,
        pattern=PREFIX_PATTERN,
        description="Key prefix in the bucket, without a leading or trailing '/' (e.g. models).",
    )
    credentials_secret: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="Secret in the pipeline's namespace with the keys, opted in like a dataset's "
        "credentialsSecret (label modelpipe.io/credentials, annotation modelpipe.io/url-prefixes "
        "covering s3://<bucket>/<prefix>/<namespace>/<pipeline>). Mounted only into the "
        "operator's own upload and download containers, never into the training or serving "
        "container. Without it those containers use the pod's AWS credential chain.",
    )

    def base_uri(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def pipeline_uri(self, *, namespace: str, pipeline: str) -> str:
        """``s3://bucket/prefix/<namespace>/<pipeline>``: every model of the pipeline is below
        it, and the Secret's url-prefixes must cover it."""
        return f"{self.base_uri()}/{namespace}/{pipeline}"


class ArtifactsSpec(SpecModel):
    """Where models live: a PVC mounted by training and serving, or an S3 bucket."""

    pvc: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="PersistentVolumeClaim name, laid out <pipeline>/<version>/. Serving pods "
        "mount it too: with more than one node it must be ReadWriteMany.",
    )
    s3: S3Artifacts | None = Field(
        default=None,
        description="An S3 bucket: serving pods download and verify the model, on any node.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(cel("has(self.pvc) != has(self.s3)", EXACTLY_ONE))
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.pvc is None) == (self.s3 is None):
            raise ValueError(EXACTLY_ONE)
        return self


# On ModelPipelineSpec: an S3 model is served only through a Deployment the operator creates.
S3_NEEDS_TEMPLATE_RULE = cel(
    "!has(self.artifacts.s3) || has(self.serving.template)", NEEDS_TEMPLATE
)
