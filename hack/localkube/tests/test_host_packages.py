"""host-packages.sh: a missing Debian package gives the exact apt-get line."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "host-packages.sh"
PROVIDES = [
    "usr/bin/containerd",
    "usr/sbin/runc",
    "usr/lib/cni/bridge",
    "usr/sbin/iptables",
    "usr/sbin/conntrack",
    "usr/bin/ip",
    "usr/bin/buildah",
    "usr/bin/mmdebstrap",
    "usr/bin/chromium",
]


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LOCALKUBE_HOST_ROOT": str(root)}
    return subprocess.run(
        ["bash", str(SCRIPT), "--check"], env=env, capture_output=True, text=True, timeout=30
    )


def test_missing_packages_print_the_apt_get_line(tmp_path: Path) -> None:
    for rel in PROVIDES:
        if rel not in ("usr/bin/buildah", "usr/sbin/runc"):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).touch()
    proc = _check(tmp_path)
    assert proc.returncode == 3
    line = "apt-get update && apt-get install -y --no-install-recommends buildah runc"
    assert line in proc.stderr


def test_nothing_missing_is_silent(tmp_path: Path) -> None:
    for rel in PROVIDES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    proc = _check(tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
