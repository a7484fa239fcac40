"""A local-path volume provisioner: every PVC gets a directory on this machine.

There is no storage driver here, so each pending claim gets a pre-bound hostPath
PersistentVolume at ``<root>/<namespace>/<claim>``; the real PV binder controller
then binds it, and the real scheduler can place pods that use the claim. When a
claim is deleted its volume is released; we then delete the PV and its
directory, as the ``Delete`` reclaim policy of a dynamic provisioner would.

Run by ``Cluster.up`` as ``python -m localkube.provisioner``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from localkube import api
from localkube.certs import Pair, Pki

POLL_SECONDS = 0.5


def pv_for(claim: dict[str, Any], root: Path) -> dict[str, Any]:
    """The PersistentVolume that satisfies ``claim`` (pure)."""
    meta, spec = claim["metadata"], claim.get("spec", {})
    storage = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "labels": {"localkube.dev/provisioned": "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": "localkube.dev/local-path"},
        },
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": spec.get("storageClassName") or "",
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {
                "path": str(root / meta["namespace"] / meta["name"]),
                "type": "DirectoryOrCreate",
            },
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def _sync(server: str, pki: Pki, root: Path) -> None:
    status, claims = api.get(server, pki, "/api/v1/persistentvolumeclaims")
    status2, volumes = api.get(server, pki, "/api/v1/persistentvolumes")
    if status != 200 or status2 != 200:
        return
    existing = {v["metadata"]["name"]: v for v in volumes.get("items", [])}
    for claim in claims.get("items", []):
        if claim["spec"].get("volumeName") or claim["metadata"].get("deletionTimestamp"):
            continue
        pv = pv_for(claim, root)
        if pv["metadata"]["name"] in existing:
            continue
        Path(pv["spec"]["hostPath"]["path"]).mkdir(parents=True, exist_ok=True, mode=0o777)
        Path(pv["spec"]["hostPath"]["path"]).chmod(0o777)  # pods may run as any non-root uid
        api.request(server, pki, "POST", "/api/v1/persistentvolumes", body=pv)
    for name, pv in existing.items():
        labels = pv["metadata"].get("labels", {})
        if labels.get("localkube.dev/provisioned") and pv.get("status", {}).get("phase") in (
            "Released",
            "Failed",
        ):
            shutil.rmtree(pv["spec"]["hostPath"]["path"], ignore_errors=True)
            api.request(server, pki, "DELETE", f"/api/v1/persistentvolumes/{name}")


def _pki_from_kubeconfig(path: Path) -> tuple[str, Pki]:
    doc = yaml.safe_load(path.read_text())
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    ca = Pair(cert=Path(cluster["certificate-authority"]), key=Path("/nonexistent"))
    admin = Pair(cert=Path(user["client-certificate"]), key=Path(user["client-key"]))
    pki = Pki(ca, ca, admin, ca, ca, ca, ca, Path("/nonexistent"), Path("/nonexistent"))
    return str(cluster["server"]), pki


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localkube.provisioner")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args(argv)
    server, pki = _pki_from_kubeconfig(args.kubeconfig)
    args.root.mkdir(parents=True, exist_ok=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            _sync(server, pki, args.root)
        except OSError as err:  # the API server restarting; try again shortly
            print(f"provisioner: sync failed: {err}", file=sys.stderr, flush=True)
        time.sleep(POLL_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
