"""What every pod worker shares: configuration, API client, events, node facts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from localkube.agent.api import KubeApi
from localkube.agent.config import AgentConfig
from localkube.agent.events import EventRecorder

NODE_CAPACITY = {
    "cpu": "32",
    "memory": "64Gi",
    "pods": "250",
    "ephemeral-storage": "200Gi",
}
HOST_IP = "127.0.0.1"


@dataclass
class Context:
    cfg: AgentConfig
    api: KubeApi
    events: EventRecorder
    http: aiohttp.ClientSession  # for httpGet probes (no TLS verification, like the kubelet)
    interpreter: str  # the real path of the venv's python, for non-root pods
    node_capacity: dict[str, str] = field(default_factory=lambda: dict(NODE_CAPACITY))
    host_ip: str = HOST_IP

    @property
    def pods_dir(self) -> Path:
        return self.cfg.state_dir / "pods"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()
