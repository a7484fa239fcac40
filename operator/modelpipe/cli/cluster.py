"""The plugin's only door to the cluster: the user's kubeconfig, their RBAC, plain calls.

Like kubectl, it honours ``--kubeconfig`` (else ``$KUBECONFIG``, else ``~/.kube/config``),
``--context`` and ``-n`` (else the context's namespace, else ``default``). Errors become
:class:`ClusterError` with an exit code; no traceback and no response body reach the user
beyond the API server's own one-line message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from modelpipe.api.v1alpha1 import GROUP, PLURAL, VERSION
from modelpipe.cli.codes import ExitCode
from modelpipe.layout import PIPELINE_LABEL, TRAIN_CONTAINER

SERVING_SELECTOR = f"{PIPELINE_LABEL}={{name}},app.kubernetes.io/component=serving"
TIMEOUT = 30


class ClusterError(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    kubeconfig: str | None
    context: str | None
    namespace: str | None


class Cluster:
    def __init__(self, target: Target) -> None:
        try:
            api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=target.kubeconfig, context=target.context
            )
            self.namespace = target.namespace or _context_namespace(target)
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            raise ClusterError(ExitCode.ERROR, f"cannot load the kubeconfig: {exc}") from None
        self.objects = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    def pipeline(self, name: str) -> dict[str, Any]:
        return self._object(
            f"ModelPipeline {self.namespace}/{name}",
            lambda: self.objects.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=TIMEOUT
            ),
        )

    def patch_pipeline(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return self._object(
            f"ModelPipeline {self.namespace}/{name}",
            lambda: self.objects.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, dict(patch), _request_timeout=TIMEOUT
            ),
        )

    def training_log(self, job: str) -> str | None:
        """The train container's log from the Job's newest pod, or None without a pod."""
        pods = self._call(
            f"the pods of Job {job}",
            lambda: self.core.list_namespaced_pod(
                self.namespace, label_selector=f"job-name={job}", _request_timeout=TIMEOUT
            ),
        ).items
        if not pods:
            return None
        newest = max(pods, key=lambda p: p.metadata.creation_timestamp)
        return str(
            self._call(
                f"the log of pod {newest.metadata.name}",
                lambda: self.core.read_namespaced_pod_log(
                    newest.metadata.name,
                    self.namespace,
                    container=TRAIN_CONTAINER,
                    _request_timeout=TIMEOUT,
                ),
            )
        )

    def run_file(self, pipeline: str, path: str) -> bytes:
        """``path`` from a ready serving pod of the pipeline, through the API server's pod
        proxy (the user needs ``get pods/proxy``)."""
        pod, port = self._serving_pod(pipeline)
        response = self._call(
            f"{path} from pod {pod}",
            lambda: self.core.connect_get_namespaced_pod_proxy_with_path(
                f"{pod}:{port}",
                self.namespace,
                path.lstrip("/"),
                _preload_content=False,
                _request_timeout=TIMEOUT,
            ),
        )
        return bytes(response.data)

    def _serving_pod(self, pipeline: str) -> tuple[str, int]:
        pods = self._call(
            f"the serving pods of {pipeline}",
            lambda: self.core.list_namespaced_pod(
                self.namespace,
                label_selector=SERVING_SELECTOR.format(name=pipeline),
                _request_timeout=TIMEOUT,
            ),
        ).items
        for pod in pods:
            ready = any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
            )
            ports = [p.container_port for c in pod.spec.containers for p in c.ports or []]
            if ready and ports and pod.metadata.deletion_timestamp is None:
                return pod.metadata.name, ports[0]
        raise ClusterError(
            ExitCode.NOT_FOUND,
            f"no ready serving pod of {self.namespace}/{pipeline}: the run records are read "
            "from it (its artifacts volume)",
        )

    def _object(self, what: str, call: Any) -> dict[str, Any]:
        found = self._call(what, call)
        if not isinstance(found, dict):
            raise ClusterError(ExitCode.ERROR, f"{what}: the API server answered no object")
        return found

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except ApiException as exc:
            raise ClusterError(*_api_error(what, exc)) from None
        except OSError as exc:  # urllib3's connection errors are OSErrors
            raise ClusterError(ExitCode.ERROR, f"cannot reach the API server: {exc}") from None
        except Exception as exc:  # urllib3 MaxRetryError and friends
            name = type(exc).__name__
            raise ClusterError(ExitCode.ERROR, f"cannot reach the API server: {name}") from None


def _api_error(what: str, exc: ApiException) -> tuple[ExitCode, str]:
    message = _api_message(exc)
    if exc.status == 404:
        return ExitCode.NOT_FOUND, f"{what} not found" + (f": {message}" if message else "")
    if exc.status in (401, 403):
        return ExitCode.FORBIDDEN, f"not allowed to read or change {what}: {message}"
    return ExitCode.ERROR, f"{what}: the API server answered {exc.status} {message}".rstrip()


def _api_message(exc: ApiException) -> str:
    """The Status message, or a served page's one-line ``error``: never a whole body."""
    try:
        body = json.loads(exc.body or b"{}")
    except (TypeError, ValueError):
        return ""
    if not isinstance(body, dict):
        return ""
    text = str(body.get("message") or body.get("error") or "")
    return " ".join(text.split())[:300]


def _context_namespace(target: Target) -> str:
    contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=target.kubeconfig
    )
    chosen = next((c for c in contexts if c["name"] == target.context), active)
    return str((chosen or {}).get("context", {}).get("namespace") or "default")
