"""What the node agent's cluster tests share: bounded waits, kubectl, plain manifests.

Objects are created with kubectl from plain manifests, so what is tested is exactly
what a user would apply.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from localkube.cluster import Cluster

Json = dict[str, Any]


def apply(cluster: Cluster, ns: str, *docs: Json) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(docs))


def get(cluster: Cluster, ns: str, *what: str) -> Json:
    out = cluster.kubectl("get", "-n", ns, *what, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def pods(cluster: Cluster, ns: str, selector: str = "") -> list[Json]:
    args = ["pods", "-l", selector] if selector else ["pods"]
    return list(get(cluster, ns, *args).get("items", []))


def pod(name: str, *containers: Json, restart: str = "Never", **spec: Any) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": list(containers), **spec},
    }


def py(name: str, code: str, **extra: Any) -> Json:
    return {"name": name, "image": "python", "command": ["python", "-u", "-c", code], **extra}
