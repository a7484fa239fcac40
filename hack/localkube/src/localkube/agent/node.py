"""Register the Node and keep it Ready: status heartbeats plus a Lease in kube-node-lease."""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp

from localkube.agent.api import MERGE, SMP, ApiError, KubeApi
from localkube.agent.podstatus import rfc3339

Json = dict[str, Any]
log = logging.getLogger(__name__)
HEARTBEAT = 10.0
LEASE_SECONDS = 40
CONDITION_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
CONDITIONS = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "localkube node agent is posting ready status"),
)


def node_status(
    *, port: int, capacity: dict[str, str], host_ip: str, since: float, now: float
) -> Json:
    """The Node's status (pure)."""
    conditions = [
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": rfc3339(now),
            "lastTransitionTime": rfc3339(since),
        }
        for kind, status, reason, message in CONDITIONS
    ]
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": host_ip},
            {"type": "Hostname", "address": platform.node() or "localhost"},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": platform.release(),
            "osImage": "localkube host processes",
            "containerRuntimeVersion": "localkube://0.1.0",
            "kubeletVersion": "v1.35.4",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def node_object(name: str, status: Json) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "localkube",
            },
        },
        "status": status,
    }


def lease_object(name: str, *, now: float) -> Json:
    when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": when},
    }


class NodeKeeper:
    def __init__(
        self, api: KubeApi, *, name: str, port: int, capacity: dict[str, str], host_ip: str
    ) -> None:
        self.api, self.name, self.port = api, name, port
        self.capacity, self.host_ip = capacity, host_ip
        self.since = time.time()

    def _status(self) -> Json:
        return node_status(
            port=self.port,
            capacity=self.capacity,
            host_ip=self.host_ip,
            since=self.since,
            now=time.time(),
        )

    async def register(self) -> None:
        try:
            await self.api.request(
                "POST", "/api/v1/nodes", body=node_object(self.name, self._status())
            )
            log.info("Registered node %s", self.name)
        except ApiError as err:
            if err.status != 409:
                raise
        await self.heartbeat()

    async def heartbeat(self) -> None:
        node = await self.api.request(
            "PATCH",
            f"/api/v1/nodes/{self.name}/status",
            body={"status": self._status()},
            content_type=SMP,
        )
        await self._untaint(node)
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        lease = lease_object(self.name, now=time.time())
        try:
            await self.api.request("PATCH", path, body={"spec": lease["spec"]}, content_type=MERGE)
        except ApiError as err:
            if err.status != 404:
                raise
            await self.api.request(
                "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body=lease
            )

    async def _untaint(self, node: Json) -> None:
        """Drop the not-ready/unreachable taints once Ready.

        The TaintNodesByCondition admission plugin puts ``not-ready`` on every new
        Node; the node-lifecycle controller, which would lift it, is not run here.
        """
        taints = node.get("spec", {}).get("taints") or []
        keep = [t for t in taints if t.get("key") not in CONDITION_TAINTS]
        if len(keep) != len(taints):
            await self.api.request(
                "PATCH",
                f"/api/v1/nodes/{self.name}",
                body={"spec": {"taints": keep or None}},
                content_type=MERGE,
            )
            log.info("Removed condition taints from node %s", self.name)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.heartbeat()
            except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as err:
                log.warning("Node heartbeat failed: %s", err)
