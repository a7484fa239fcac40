"""The serving Deployment and Service, and the patches that promote a model or apply an edit.

A created Deployment rolls with ``maxUnavailable: 0`` so the old model keeps answering
until the new pods are Ready; the promotion patch only touches the model path, the
version env and the version annotation, so it works on user-owned Deployments too.

A created Deployment carries the hash of what ``spec.serving`` asks of it, rendered
with a placeholder model (``modelpipe.io/serving-hash``): a promotion never changes
it, an edit of the template, replicas, probe or deadline always does, and then
:func:`template_patch` brings the Deployment to the spec while keeping its model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from modelpipe.api.config import UNCONFIGURED, OperatorConfig
from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec
from modelpipe.api.v1alpha1.spec import ServingTemplate
from modelpipe.layout import (
    ARTIFACTS_MOUNT,
    ARTIFACTS_VOLUME,
    MODEL_DIR_ENV,
    MODEL_NAME_ENV,
    MODEL_VERSION_ANNOTATION,
    MODEL_VERSION_ENV,
    MODEL_VERSION_LABEL,
    PIPELINE_LABEL,
    SERVE_CONTAINER,
    SERVING_HASH_ANNOTATION,
    SHADOW_SUFFIX,
    SHADOW_TARGET_ENV,
)
from modelpipe.manifests.common import (
    HOME_ENV,
    PLACEMENT_FIELDS,
    PREFERRED_NODES,
    REQUIRED_NODES,
    TMP_MOUNT,
    TMP_VOLUME,
    Manifest,
    base_labels,
    container_security_context,
    owner_reference,
    placement,
    pod_security_context,
    resources,
    service_account,
)
from modelpipe.manifests.probes import serving_probes, startup_window
from modelpipe.manifests.s3model import (
    FETCH_MODEL_CONTAINER,
    MODEL_URI_ENV,
    fetch_container,
    store_volumes,
)
from modelpipe.manifests.s3model import (
    MODEL_DIR_ENV as FETCH_DIR_ENV,
)

SERVE_COMMAND = ["modelpipe-trainer", "serve"]
COMPONENT_LABEL = "app.kubernetes.io/component"


def selector_labels(pipeline: str) -> dict[str, str]:
    return {PIPELINE_LABEL: pipeline, COMPONENT_LABEL: "serving"}


def shadow_target(*, pipeline: str, spec: ModelPipelineSpec) -> str:
    """host:port of the ``<pipeline>-shadow`` Service (manifests.shadow): derived from the
    pipeline's name only, never from a URL a tenant typed."""
    port = (spec.serving.template or ServingTemplate()).port
    return f"{pipeline}{SHADOW_SUFFIX}:{port}"


def model_name(*, meta: Metadata, spec: ModelPipelineSpec) -> str:
    return spec.serving.model_name or meta.name


def serving_deployment(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    version: str,
    model_dir: str,
    config: OperatorConfig = UNCONFIGURED,
    model_uri: str | None = None,
    mirror: bool = False,
    progress_deadline: int | None = None,
) -> Manifest:
    """A Deployment named after the pipeline serving ``version``, owned by the pipeline.

    With ``spec.artifacts.s3`` its pods download ``model_uri`` into ``model_dir`` first;
    with ``mirror`` they copy each request to the shadow (:func:`shadow_target`).
    ``progress_deadline`` is the one planning.deadline chose for ``version``'s runtime;
    without it, the longest the pipeline can get (:func:`startup_window`)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "labels": {**base_labels(meta.name), COMPONENT_LABEL: "serving"},
            "annotations": {
                MODEL_VERSION_ANNOTATION: version,
                SERVING_HASH_ANNOTATION: serving_hash(
                    meta=meta, spec=spec, config=config, mirror=mirror
                ),
            },
            "ownerReferences": [owner_reference(meta)],
        },
        "spec": _deployment_spec(
            meta=meta,
            spec=spec,
            version=version,
            model_dir=model_dir,
            model_uri=model_uri,
            config=config,
            mirror=mirror,
            progress_deadline=progress_deadline,
        ),
    }


def serving_hash(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    config: OperatorConfig = UNCONFIGURED,
    mirror: bool = False,
) -> str:
    """What spec.serving (and the operator's own rendering) asks of the Deployment, as a hash."""
    rendered = _deployment_spec(
        meta=meta, spec=spec, version="", model_dir="", model_uri="", config=config, mirror=mirror
    )
    return hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()[:16]


def template_patch(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    version: str,
    model_dir: str,
    model_uri: str | None = None,
    node_selector_keys: Iterable[str] = (),
    config: OperatorConfig = UNCONFIGURED,
    mirror: bool = False,
    progress_deadline: int | None = None,
) -> Manifest:
    """JSON merge patch bringing an owned Deployment to spec.serving, still serving ``version``.

    A merge patch replaces lists (containers, volumes) whole, and a service account or
    placement field dropped from the template is nulled, as are the keys of the
    Deployment's ``node_selector_keys`` the spec no longer has and a node affinity half
    (required, preferred) it no longer has, so whatever the spec no longer says goes too.
    The selector is immutable and the strategy the operator's own; neither is sent, and
    neither are the replicas while an autoscaler sets them.
    """
    desired = serving_deployment(
        meta=meta,
        spec=spec,
        version=version,
        model_dir=model_dir,
        model_uri=model_uri,
        config=config,
        mirror=mirror,
        progress_deadline=progress_deadline,
    )
    rendered = desired["spec"]["template"]["spec"]
    pod = {
        "initContainers": None,  # none but fetch-model (artifacts.s3)
        "serviceAccountName": None,
        "automountServiceAccountToken": None,
        **dict.fromkeys(PLACEMENT_FIELDS),
        **rendered,
        # A merge patch merges maps: selector keys the spec dropped are nulled one by one.
        "nodeSelector": {**dict.fromkeys(node_selector_keys), **rendered.get("nodeSelector", {})}
        or None,
        # ... and so are node affinity's required and preferred halves.
        "affinity": _nulled_affinity(rendered.get("affinity")),
    }
    return {
        "metadata": {
            "annotations": {
                SERVING_HASH_ANNOTATION: serving_hash(
                    meta=meta, spec=spec, config=config, mirror=mirror
                )
            }
        },
        "spec": {
            **{k: v for k, v in desired["spec"].items() if k == "replicas"},
            "progressDeadlineSeconds": desired["spec"]["progressDeadlineSeconds"],
            "template": {"spec": pod},
        },
    }


def _nulled_affinity(rendered: Manifest | None) -> Manifest | None:
    if rendered is None:
        return None
    halves = dict.fromkeys((REQUIRED_NODES, PREFERRED_NODES))
    return {"nodeAffinity": {**halves, **rendered["nodeAffinity"]}}


def _deployment_spec(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    version: str,
    model_dir: str,
    model_uri: str | None,
    config: OperatorConfig,
    mirror: bool = False,
    progress_deadline: int | None = None,
) -> Manifest:
    template = spec.serving.template or ServingTemplate()
    window = startup_window(spec=spec, config=config)
    annotations = {MODEL_VERSION_ANNOTATION: version}
    pod_labels = {**selector_labels(meta.name), MODEL_VERSION_LABEL: version}
    pod: Manifest = {
        "securityContext": pod_security_context(),
        "volumes": [*store_volumes(spec, read_only=True), TMP_VOLUME],
        "containers": [
            _serve_container(
                meta=meta,
                spec=spec,
                version=version,
                model_dir=model_dir,
                image=_serving_image(spec, template, server_image=config.server_image),
                mirror=mirror,
                startup_window=window,
            )
        ],
    }
    if spec.artifacts.s3 is not None:  # an empty URI fails the download: nothing to serve
        fetch = fetch_container(
            spec.artifacts.s3,
            name=FETCH_MODEL_CONTAINER,
            model_uri=model_uri or "",
            model_dir=model_dir,
            image=config.trainer_image,
        )
        pod["initContainers"] = [fetch]
    pod |= service_account(template.service_account_name)
    pod |= placement(template, pods=selector_labels(meta.name))
    # With serving.autoscaling the HPA owns spec.replicas: never sent, so never fought over.
    replicas = {} if spec.serving.autoscaling else {"replicas": spec.serving.replicas}
    return {
        **replicas,
        "progressDeadlineSeconds": progress_deadline or window,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector_labels(meta.name)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {"labels": pod_labels, "annotations": annotations},
            "spec": pod,
        },
    }


def _serve_container(
    *,
    meta: Metadata,
    spec: ModelPipelineSpec,
    version: str,
    model_dir: str,
    image: str,
    mirror: bool,
    startup_window: int,
) -> Manifest:
    template = spec.serving.template or ServingTemplate()
    return {
        "name": SERVE_CONTAINER,
        "image": image,
        "command": list(template.command or SERVE_COMMAND),
        "env": [
            {"name": MODEL_DIR_ENV, "value": model_dir},
            {"name": MODEL_VERSION_ENV, "value": version},
            {"name": MODEL_NAME_ENV, "value": model_name(meta=meta, spec=spec)},
            {"name": "PORT", "value": str(template.port)},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            HOME_ENV,
            *_mirror_env(meta=meta, spec=spec, mirror=mirror),
        ],
        "ports": [{"name": "http", "containerPort": template.port, "protocol": "TCP"}],
        **serving_probes(spec.serving.readiness_probe, startup_window=startup_window),
        "volumeMounts": [
            {"name": ARTIFACTS_VOLUME, "mountPath": ARTIFACTS_MOUNT, "readOnly": True},
            TMP_MOUNT,
        ],
        "resources": resources(template.resources),
        "securityContext": container_security_context(),
    }


def _mirror_env(*, meta: Metadata, spec: ModelPipelineSpec, mirror: bool) -> list[Manifest]:
    """Production's server copies each request to the shadow Service (planning.shadow
    decides when: strategy Shadow, and that Service is the pipeline's own). Set while the
    strategy is Shadow, not per candidate: production's pods roll once when the strategy
    is switched, never when a shadow starts or ends."""
    if not mirror:
        return []
    return [{"name": SHADOW_TARGET_ENV, "value": shadow_target(pipeline=meta.name, spec=spec)}]


def serving_service(*, meta: Metadata, spec: ModelPipelineSpec) -> Manifest:
    """A ClusterIP Service in front of the created Deployment, owned by the pipeline."""
    template = spec.serving.template or ServingTemplate()
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "labels": base_labels(meta.name),
            "ownerReferences": [owner_reference(meta)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(meta.name),
            "ports": [
                {"name": "http", "port": template.port, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def promotion_patch(
    *,
    pipeline: str,
    container: str,
    version: str,
    model_dir: str,
    model_uri: str | None = None,
    progress_deadline: int | None = None,
) -> Manifest:
    """Strategic-merge patch pointing one container at a model version.

    The pipeline label lets the operator's label-selected Deployment watch see
    rollouts of Deployments it did not create. With ``model_uri`` (artifacts.s3) the
    ``fetch-model`` init container is pointed at it too. ``progress_deadline`` (only for
    a Deployment the operator owns) is the deadline planning.deadline chose for ``version``.
    """
    annotations = {MODEL_VERSION_ANNOTATION: version}
    patch: Manifest = {
        "metadata": {"labels": {PIPELINE_LABEL: pipeline}, "annotations": annotations},
        "spec": {
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {
                    "containers": [
                        {
                            "name": container,
                            "env": [
                                {"name": MODEL_DIR_ENV, "value": model_dir},
                                {"name": MODEL_VERSION_ENV, "value": version},
                            ],
                        }
                    ]
                },
            }
        },
    }
    if model_uri is not None:
        env = [
            {"name": MODEL_URI_ENV, "value": model_uri},
            {"name": FETCH_DIR_ENV, "value": model_dir},
        ]
        fetch = {"name": FETCH_MODEL_CONTAINER, "env": env}
        patch["spec"]["template"]["spec"]["initContainers"] = [fetch]
    if progress_deadline is not None:
        patch["spec"]["progressDeadlineSeconds"] = progress_deadline
    return patch


def _serving_image(
    spec: ModelPipelineSpec, template: ServingTemplate, *, server_image: str | None
) -> str:
    """The template's image, else the pipeline's own trainer image when it names one,
    else the operator's configured server image, else the (defaulted) trainer image."""
    if template.image:
        return template.image
    if "image" in spec.code.model_fields_set:
        return spec.code.image
    return server_image or spec.code.image
