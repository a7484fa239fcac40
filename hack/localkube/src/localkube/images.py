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
    """Build the sandbox (pause) image if needed; return every image to load.
    The operator and trainer images are built by ``make images``."""
    if not any(i.name == "pause" for i in built()):
        log("Building the node's sandbox image (once; the base image takes about 2 min)")
        subprocess.run(["bash", str(_SCRIPT), "pause"], check=True, stdout=subprocess.DEVNULL)
    return built()
