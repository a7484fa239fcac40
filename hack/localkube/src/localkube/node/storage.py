"""Volumes for claims: Rancher's local-path-provisioner (Apache-2.0, built from its
Go module by ``hack/localkube/build.sh storage``), run on the host with a
kubeconfig, as kube-controller-manager is.

Every claim without a class gets the default StorageClass ``local-path``. When the
scheduler has picked the node of the claim's first pod (WaitForFirstConsumer),
the provisioner runs a helper pod on that node which makes the directory
``<volumes>/<namespace>/<claim>`` (``volumes`` is under the cluster's home) and
creates a hostPath PersistentVolume bound to the claim and tied to the node.
When the claim is deleted, a second helper pod removes the directory and the
volume goes (reclaim policy Delete). ``localkube down`` removes the rest with
the cluster's home; the node's mounts live in its own mount namespace.

The helper pods run the node's sandbox image (Debian's shell and coreutils,
loaded on every node, never pulled) as root with CAP_DAC_OVERRIDE alone, so a
teardown can remove what pods of any user wrote. A hostPath volume needs the
``privileged`` Pod Security level, so the helpers' namespace says so; only they
run there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localkube.node.config import PAUSE_IMAGE

NAMESPACE = "local-path-storage"
STORAGE_CLASS = "local-path"
PROVISIONER = "rancher.io/local-path"
_CONFIGMAP = "local-path-config"
_HELPERS = "local-path-helper"  # the helper pods' ServiceAccount: no token, no rights
# Pods of any non-root user may write their claim's directory, as on a cloud disk.
_SETUP = 'set -eu\nmkdir -p "$VOL_DIR"\nchmod 0777 "$VOL_DIR"\n'
_TEARDOWN = 'set -eu\nrm -rf "$VOL_DIR"\n'


def manifests(*, nodes: list[str], volumes: Path) -> list[dict[str, Any]]:
    """The provisioner's namespace, configuration and the default StorageClass. Every
    node keeps its claims in the same host directory (the nodes share the host's
    filesystem), but a volume is still tied to the node that made it, as a local disk."""
    meta = {"namespace": NAMESPACE}
    path_map = [{"node": node, "paths": [str(volumes)]} for node in nodes]
    config = {"nodePathMap": path_map, "cmdTimeoutSeconds": 60}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NAMESPACE,
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": _HELPERS, **meta},
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": _CONFIGMAP, **meta},
            "data": {
                "config.json": json.dumps(config),
                "helperPod.yaml": json.dumps(_helper_pod()),
                "setup": _SETUP,
                "teardown": _TEARDOWN,
            },
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": PROVISIONER,
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Delete",
            # <volumes>/<namespace>/<claim>: a stable place to find a claim's files.
            "parameters": {"pathPattern": "{{ .PVC.Namespace }}/{{ .PVC.Name }}"},
        },
    ]


def manifest_text(*, nodes: list[str], volumes: Path) -> str:
    items = manifests(nodes=nodes, volumes=volumes)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def provisioner_argv(binary: Path, kubeconfig: Path) -> list[str]:
    """The provisioner's command line; it reads its configuration from the ConfigMap."""
    return [
        str(binary),
        "start",
        f"--kubeconfig={kubeconfig}",
        f"--provisioner-name={PROVISIONER}",
        f"--namespace={NAMESPACE}",
        f"--configmap-name={_CONFIGMAP}",
        f"--service-account-name={_HELPERS}",
        f"--helper-image={PAUSE_IMAGE}",  # required; the image is the helper pod's own
    ]


def _helper_pod() -> dict[str, Any]:
    """The helper pod's template: the provisioner adds the command, volumes and node."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "helper",
                    "image": PAUSE_IMAGE,
                    "imagePullPolicy": "Never",
                    "resources": {"limits": {"memory": "32Mi"}, "requests": {"cpu": "10m"}},
                    "securityContext": {
                        "runAsUser": 0,
                        "runAsGroup": 0,
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"], "add": ["DAC_OVERRIDE"]},
                    },
                }
            ],
        },
    }
