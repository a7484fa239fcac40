"""s3:// figures against the real S3 server (versitygw on loopback; no cluster).

    uv run python benchmarks/sources/bench_s3.py           # 2 s and 5 s intervals, 100 MB
    uv run python benchmarks/sources/bench_s3.py --quick   # 0.5 s interval, 20 MB

1. Detection latency: from a new object version being put to the registry
   announcing it, p50 / p99, next to the poll interval (the floor: a change lands
   at a random phase of the cycle, so ~interval/2 on average). The operator's
   reconcile and the Job's creation come on top: ``bench_detection.py`` measures
   the whole path, a new object version to the Job, through the operator on a cluster.
2. Download of one object: ``modelpipe-trainer fetch-s3`` (botocore ``get_object``,
   streamed to a file under a temporary name, size-capped) against boto3's own
   ``download_file`` (s3transfer, concurrent ranged GETs) of the same object: the
   ratio says what our simpler path costs.
3. A model directory in S3 (spec.artifacts.s3): ``upload-model`` (every file hashed
   against manifest.json, then uploaded, manifest last) and ``fetch-model`` (streamed,
   each file's sha256 checked) of a model of that size, against boto3's ``upload_file``
   / ``download_file`` of the same bytes as one object.
4. A serving pod's start with the model in S3 against on a PVC: ``fetch-model`` of a
   trained model into an empty directory and then ``modelpipe-trainer serve`` to its
   first ready probe, against ``serve`` alone on the model directory already there.
   The pod's own start (image, sandbox) is the same in both and left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer"))

from bench_requests import percentile
from bench_serving import train_model
from bench_serving_startup import serve_start
from tests.e2e.harness import free_port
from tests.objectstore.server import S3Server

from modelpipe.api.sources import Credentials, SourceKey, SourceKind
from modelpipe.k8s.systemclock import SystemClock
from modelpipe.sources.ratelimit import RateLimiter
from modelpipe.sources.registry import Follow, SourceRegistry
from modelpipe_trainer.manifest import build_manifest
from modelpipe_trainer.modelstore import download as fetch_model
from modelpipe_trainer.modelstore import upload as upload_model
from modelpipe_trainer.objectfetch import ObjectRef, fetch, make_client


async def detection(server: S3Server, bucket: str, *, interval: float, puts: int) -> list[float]:
    clock = SystemClock()
    registry = SourceRegistry(
        clock=clock, limiter=RateLimiter(clock=clock, rate_per_second=50, burst=50)
    )
    keys = Credentials.from_secret_data(
        {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
         "AWS_ENDPOINT_URL": server.endpoint}
    )  # fmt: skip
    key = SourceKey(SourceKind.S3, f"s3://{bucket}/d.csv", max_bytes=1 << 20)
    s3, rng, latencies = server.client(), random.Random(7), []
    try:
        registry.follow("bench", {"dataset": Follow(key, interval, keys)})
        await registry.wait_changed("bench", timeout_seconds=30)
        for n in range(puts):
            await asyncio.sleep(rng.uniform(0, interval))
            put = await asyncio.to_thread(
                s3.put_object, Bucket=bucket, Key="d.csv", Body=f"x\n{n}\n".encode()
            )
            want, started = f"versionId:{put['VersionId']}", time.monotonic()
            for _ in range(100):  # bounded: one wake-up per announced change
                if not await registry.wait_changed("bench", timeout_seconds=interval * 4):
                    break
                if registry.snapshot("bench")["dataset"].state.value == want:
                    latencies.append(time.monotonic() - started)
                    break
    finally:
        await registry.close()
    return latencies


def download(server: S3Server, bucket: str, folder: Path, *, megabytes: int) -> tuple[float, float]:
    s3 = server.client()
    s3.put_object(Bucket=bucket, Key="model.bin", Body=os.urandom(megabytes << 20))
    client = make_client(
        {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
         "AWS_ENDPOINT_URL": server.endpoint}
    )  # fmt: skip
    ref = ObjectRef(f"s3://{bucket}/model.bin", "v", str(folder / "ours.bin"), 1 << 40)
    ours, raw = [], []
    for _ in range(3):
        started = time.monotonic()
        fetch(client, ref)
        ours.append(time.monotonic() - started)
        started = time.monotonic()
        s3.download_file(bucket, "model.bin", str(folder / "raw.bin"))
        raw.append(time.monotonic() - started)
    return min(ours), min(raw)


def model_store(
    server: S3Server, bucket: str, folder: Path, *, megabytes: int
) -> tuple[float, float, float, float]:
    """Best of 3: upload-model, boto3 upload_file, fetch-model, boto3 download_file."""
    s3, model = server.client(), folder / "model"
    model.mkdir()
    files = {"model.skops": os.urandom(megabytes << 20), "metrics.json": b"{}"}
    for name, data in files.items():
        (model / name).write_bytes(data)
    (model / "manifest.json").write_bytes(build_manifest(files))
    client = _client(server)
    times: list[list[float]] = [[], [], [], []]
    for n in range(3):
        uri, raw = f"s3://{bucket}/models/run{n}/", f"raw{n}.bin"
        steps = (
            partial(upload_model, client, model_dir=model, uri=uri, max_bytes=1 << 40),
            partial(s3.upload_file, str(model / "model.skops"), bucket, raw),
            partial(fetch_model, client, uri=uri, model_dir=folder / f"got{n}", max_bytes=1 << 40),
            partial(s3.download_file, bucket, raw, str(folder / raw)),
        )
        for step, seconds in zip(steps, times, strict=True):
            started = time.monotonic()
            step()
            seconds.append(time.monotonic() - started)
    up, raw_up, down, raw_down = (min(t) for t in times)
    return up, raw_up, down, raw_down


def _client(server: S3Server) -> Any:
    return make_client(
        {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
         "AWS_ENDPOINT_URL": server.endpoint}
    )  # fmt: skip


def serving_start(server: S3Server, bucket: str, folder: Path) -> tuple[float, float]:
    """Best of 3 (wall seconds): serve from the model directory (a PVC) against
    fetch-model into an empty directory, then serve (S3)."""
    client, uri = _client(server), f"s3://{bucket}/serving/run/"
    (folder / "train").mkdir()
    model = train_model(folder / "train")
    upload_model(client, model_dir=model, uri=uri, max_bytes=1 << 40)
    from_pvc, from_s3 = [], []
    for n in range(3):
        from_pvc.append(serve_start(model, free_port())[0])
        started, fetched = time.monotonic(), folder / f"served{n}" / model.name
        fetch_model(client, uri=uri, model_dir=fetched, max_bytes=1 << 40)
        download = time.monotonic() - started
        from_s3.append(download + serve_start(fetched, free_port())[0])
    return min(from_pvc), min(from_s3)


def main(*, quick: bool) -> None:
    intervals, puts, megabytes = ((0.5,), 10, 20) if quick else ((2.0, 5.0), 20, 100)
    with tempfile.TemporaryDirectory() as tmp:
        server = S3Server(data_dir=Path(tmp) / "s3")
        server.start()
        try:
            bucket = server.bucket("bench", versioned=True)
            for interval in intervals:
                seen = asyncio.run(detection(server, bucket, interval=interval, puts=puts))
                print(
                    f"  s3 new object version -> change seen, interval {interval:g}s "
                    f"({len(seen)} of {puts}): p50 {percentile(seen, 0.5):.2f}s, "
                    f"p99 {percentile(seen, 0.99):.2f}s (floor ~{interval / 2:g}s average)"
                )
            ours, raw = download(server, bucket, Path(tmp), megabytes=megabytes)
            print(
                f"  {megabytes} MB download: fetch-s3 {ours:.2f}s, boto3 download_file "
                f"{raw:.2f}s, ratio {ours / raw:.2f} (best of 3)"
            )
            up, raw_up, down, raw_down = model_store(server, bucket, Path(tmp), megabytes=megabytes)
            print(
                f"  {megabytes} MB model: upload-model {up:.2f}s vs boto3 upload_file "
                f"{raw_up:.2f}s (ratio {up / raw_up:.2f}); fetch-model {down:.2f}s vs boto3 "
                f"download_file {raw_down:.2f}s (ratio {down / raw_down:.2f}) (best of 3)"
            )
            pvc, s3 = serving_start(server, bucket, Path(tmp))
            print(
                f"  serving start to ready: with fetch-model {s3:.2f}s vs from the PVC "
                f"{pvc:.2f}s (ratio {s3 / pvc:.2f}; the iris-sized model, best of 3)"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.5 s interval, 20 MB")
    main(quick=parser.parse_args().quick)
