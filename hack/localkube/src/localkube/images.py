"""The locally built images a real node loads (hack/localkube/images.sh)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

_SCRIPT = Path(__file__).resolve().parents[2] / "images.sh"


class Image(NamedTuple):
    name: str
    archive: Path
    ref: str


def built() -> list[Image]:
    """The images already built from this tree's current inputs."""
    out = subprocess.run(
        ["bash", str(_SCRIPT), "list"], check=True, capture_output=True, text=True
    ).stdout
    return [Image(n, Path(a), r) for n, a, r in (line.split() for line in out.splitlines())]


def ensure_node_images(*, log: Callable[[str], None]) -> list[Image]:
    """Build the sandbox (pause) and CoreDNS images if needed; return every image
    to load. The operator, trainer and s3 (the demo's S3 server) images are built by
    ``make images``."""
    names = {i.name for i in built()}
    if not {"pause", "coredns"} <= names:
        log("Building the node's sandbox and DNS images (once; a few minutes cold)")
        subprocess.run(
            ["bash", str(_SCRIPT), "pause", "coredns"], check=True, stdout=subprocess.DEVNULL
        )
    return built()
