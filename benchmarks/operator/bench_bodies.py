"""What the typed views of API objects (``modelpipe.k8s.bodies``) cost a reconcile pass.

    python benchmarks/operator/bench_bodies.py

On the recorded answers of one pass (``tests/operator/recorded/observe_fresh.json``: the
real apiserver's Jobs, pods, Deployment, Service, HPA, ServiceAccount and PVC):

- parsing every object the pass reads into its view, per pass, and as a ratio to
  ``json.loads`` of the same answers (the decoding a pass pays anyway);
- the whole gather pass (``observe()`` through the real ``ApiClient``, answers replayed,
  no network), so the parse can be seen as a share of it.

A 300-pipeline burst is 300 of these passes (and one more per Job event that counts).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.operator.recorded.exchanges import load, replay

from modelpipe.k8s.bodies import (
    DeploymentBody,
    JobBody,
    ObjectBody,
    PodBody,
    parse,
    parse_all,
)
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.gather import observe

RECORDED = load("observe_fresh")
ANSWERS = [e["answer"] for e in RECORDED["exchanges"][1:]]  # the pipeline is the API model's
RAW = [json.dumps(answer).encode() for answer in ANSWERS]
MODELS: dict[str, type[JobBody | PodBody | DeploymentBody | ObjectBody]] = {
    "JobList": JobBody,
    "PodList": PodBody,
    "Deployment": DeploymentBody,
}


def per_call(repeats: int, fn: Callable[[], object]) -> float:
    """Median seconds of one call, over ``repeats`` batches of 20."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(20):
            fn()
        times.append((time.perf_counter() - start) / 20)
    return statistics.median(times)


def parse_pass() -> None:
    for answer in ANSWERS:
        model = MODELS.get(answer["kind"], ObjectBody)
        if answer["kind"].endswith("List"):
            parse_all(model, answer["items"])
        else:
            parse(model, answer)


def decode_pass() -> None:
    for raw in RAW:
        json.loads(raw)


def gather_pass() -> None:
    world = RECORDED["world"]
    _, rest = replay(RECORDED["exchanges"])
    observe(KubeApi(rest), namespace=world["namespace"], name=world["name"])


def main() -> None:
    objects = sum(len(a["items"]) if a["kind"].endswith("List") else 1 for a in ANSWERS)
    parsed, decoded, gathered = (per_call(50, fn) for fn in (parse_pass, decode_pass, gather_pass))
    print(f"objects read per pass:          {objects} ({sum(map(len, RAW)) // 1024} KiB of JSON)")
    print(f"typed views, per pass:          {parsed * 1e6:8.0f} us")
    ratio, share = parsed / decoded, parsed / gathered
    print(f"json.loads of the same answers: {decoded * 1e6:8.0f} us  (views/decode {ratio:.1f}x)")
    print(f"whole gather pass, no network:  {gathered * 1e6:8.0f} us  (views: {share:.0%} of it)")


if __name__ == "__main__":
    main()
