"""Kubeconfig files for the admin, the controllers and the provisioner."""

from __future__ import annotations

from pathlib import Path

import yaml

from localkube.certs import Pair, Pki


def render(*, server: str, ca: Path, user: Pair, name: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {
                "name": f"{name}-user",
                "user": {"client-certificate": str(user.cert), "client-key": str(user.key)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-user"}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_all(home: Path, *, server: str, pki: Pki) -> None:
    """Write ``kubeconfig`` (admin) and one kubeconfig per component."""
    name = f"localkube-{home.name}"
    files = {
        "kubeconfig": pki.admin,
        "provisioner.kubeconfig": pki.admin,
        "controller-manager.kubeconfig": pki.controller_manager,
        "scheduler.kubeconfig": pki.scheduler,
    }
    for filename, user in files.items():
        path = home / filename
        path.write_text(render(server=server, ca=pki.ca.cert, user=user, name=name))
        path.chmod(0o600)
