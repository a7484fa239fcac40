"""Resolve a container's environment, command and args, as the kubelet would.

Pure: the gatherer fetches every referenced ConfigMap and Secret first (``None`` when
missing) and passes them in. A reference that cannot be satisfied becomes a
:class:`Blocked` with the kubelet's reason, ``CreateContainerConfigError``, and the
container stays waiting until the object appears.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

CONFIG_ERROR = "CreateContainerConfigError"
CREATE_ERROR = "CreateContainerError"
NO_COMMAND = "localkube runs containers as host processes; spell out command"


@dataclass(frozen=True)
class Blocked:
    """Why a container cannot be created yet (a kubelet waiting reason + message)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Objects:
    """The ConfigMaps and Secrets a pod refers to, by name; ``None`` means absent."""

    configmaps: Mapping[str, Json | None]
    secrets: Mapping[str, Json | None]

    def data(self, kind: str, name: str) -> dict[str, str] | None:
        """String data of one object; Secret values are base64-decoded."""
        if kind == "ConfigMap":
            cm = self.configmaps.get(name)
            return None if cm is None else dict(cm.get("data") or {})
        secret = self.secrets.get(name)
        if secret is None:
            return None
        raw = secret.get("data") or {}
        decoded = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in raw.items()}
        decoded.update(secret.get("stringData") or {})
        return decoded

    def raw(self, kind: str, name: str) -> dict[str, bytes] | None:
        """Byte values of one object, for volume files (``binaryData`` included)."""
        obj = (self.configmaps if kind == "ConfigMap" else self.secrets).get(name)
        if obj is None:
            return None
        if kind == "ConfigMap":
            out = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
            out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
            return out
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}


def referenced_names(pod: Json) -> tuple[set[str], set[str]]:
    """Names of ConfigMaps and Secrets used by env, envFrom and volumes."""
    cms: set[str] = set()
    secrets: set[str] = set()
    spec = pod.get("spec", {})
    for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                cms.add(src["configMapRef"]["name"])
            if "secretRef" in src:
                secrets.add(src["secretRef"]["name"])
        for var in c.get("env") or []:
            ref = var.get("valueFrom") or {}
            if "configMapKeyRef" in ref:
                cms.add(ref["configMapKeyRef"]["name"])
            if "secretKeyRef" in ref:
                secrets.add(ref["secretKeyRef"]["name"])
    for vol in spec.get("volumes") or []:
        if "configMap" in vol:
            cms.add(vol["configMap"]["name"])
        if "secret" in vol:
            secrets.add(vol["secret"]["secretName"])
        for src in (vol.get("projected") or {}).get("sources") or []:
            if "configMap" in src:
                cms.add(src["configMap"]["name"])
            if "secret" in src:
                secrets.add(src["secret"]["name"])
    return cms, secrets


def field_value(pod: Json, path: str) -> str:
    """The downward API: one ``fieldRef.fieldPath`` of the pod."""
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(ip["ip"] for ip in status.get("podIPs") or []),
        "status.hostIPs": ",".join(ip["ip"] for ip in status.get("hostIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path == prefix:
            items = sorted((meta.get(source) or {}).items())
            return "\n".join(f'{k}="{v}"' for k, v in items)
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((meta.get(source) or {}).get(path[len(prefix) + 2 : -2], ""))
    return ""


def resource_value(container: Json, ref: Json, *, node_capacity: Mapping[str, str]) -> str:
    """``resourceFieldRef``: the container's limit (or the node's capacity) as a string."""
    kind, _, resource = ref["resource"].partition(".")
    value = (container.get("resources") or {}).get(kind, {}).get(resource)
    return str(value if value is not None else node_capacity.get(resource, "0"))


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion: unknown names stay as written, ``$$`` is ``$``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("$(", i) and (end := text.find(")", i + 2)) != -1:
            value = lookup(text[i + 2 : end])
            out.append(value if value is not None else text[i : end + 1])
            i = end + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def resolve_env(
    container: Json,
    pod: Json,
    *,
    objects: Objects,
    base: Mapping[str, str],
    node_capacity: Mapping[str, str],
) -> dict[str, str] | Blocked:
    """The process environment: ``base``, then ``envFrom``, then ``env`` (in order)."""
    env = dict(base)
    for src in container.get("envFrom") or []:
        kind, ref = _env_from_ref(src)
        data = objects.data(kind, ref["name"])
        if data is None:
            if ref.get("optional"):
                continue
            return Blocked(CONFIG_ERROR, f'{kind.lower()} "{ref["name"]}" not found')
        prefix = src.get("prefix", "")
        env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        value = _env_value(
            var, container, pod, objects=objects, env=env, node_capacity=node_capacity
        )
        if isinstance(value, Blocked):
            return value
        if value is not None:
            env[var["name"]] = value
    return env


def _env_from_ref(src: Json) -> tuple[str, Json]:
    if "configMapRef" in src:
        return "ConfigMap", src["configMapRef"]
    return "Secret", src["secretRef"]


def _env_value(
    var: Json,
    container: Json,
    pod: Json,
    *,
    objects: Objects,
    env: Mapping[str, str],
    node_capacity: Mapping[str, str],
) -> str | Blocked | None:
    if "valueFrom" not in var:
        return expand(str(var.get("value", "")), env.get)
    ref = var["valueFrom"]
    if "fieldRef" in ref:
        return field_value(pod, ref["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in ref:
        return resource_value(container, ref["resourceFieldRef"], node_capacity=node_capacity)
    kind, key_ref = (
        ("ConfigMap", ref["configMapKeyRef"])
        if "configMapKeyRef" in ref
        else ("Secret", ref["secretKeyRef"])
    )
    data = objects.data(kind, key_ref["name"])
    optional = bool(key_ref.get("optional"))
    ns = pod["metadata"]["namespace"]
    if data is None:
        return (
            None
            if optional
            else Blocked(CONFIG_ERROR, f'{kind.lower()} "{key_ref["name"]}" not found')
        )
    if key_ref["key"] not in data:
        if optional:
            return None
        msg = f"couldn't find key {key_ref['key']} in {kind} {ns}/{key_ref['name']}"
        return Blocked(CONFIG_ERROR, msg)
    return data[key_ref["key"]]


def resolve_argv(container: Json, env: Mapping[str, str]) -> list[str] | Blocked:
    """``command`` + ``args`` with ``$(VAR)`` expanded; no command is an error here."""
    command = container.get("command") or []
    if not command:
        return Blocked(CREATE_ERROR, NO_COMMAND)
    return [expand(str(part), env.get) for part in [*command, *(container.get("args") or [])]]
