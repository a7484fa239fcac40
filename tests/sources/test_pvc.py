"""The PVC hash Job: manifest shape and result parsing. The script itself runs for real."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from modelpipe.api.pvcdata import check_path, parse_uri, uri_problem
from modelpipe.api.sources import ErrorReason
from modelpipe.k8s.bodies import JobBody, PodBody, parse
from modelpipe.k8s.pvcdata import parse_result, result_from
from modelpipe.manifests.pvcdata import HASH_SCRIPT, HashCheck, build_job, job_name, source_id

CHECK = HashCheck(
    namespace="ml", pipeline="iris", claim="data", path="iris/train.csv", image="trainer:1",
    slot=12345,
)  # fmt: skip


def test_job_is_bounded_restricted_and_deterministic() -> None:
    job = build_job(CHECK)
    assert job["metadata"]["name"] == build_job(CHECK)["metadata"]["name"]
    name = job["metadata"]["name"]
    assert name != job_name(pipeline="iris", claim="data", path="iris/train.csv", slot=12346)
    assert name != job_name(pipeline="other", claim="data", path="iris/train.csv", slot=12345)
    assert len(name) <= 63
    labels = job["metadata"]["labels"]
    assert (
        labels["modelpipe.io/pipeline"] == "iris" and labels["modelpipe.io/check-slot"] == "12345"
    )
    assert labels["modelpipe.io/source-hash"] == source_id(
        pipeline="iris", claim="data", path="iris/train.csv"
    )
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (0, 600)
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][0] == "sh" and container["volumeMounts"][0]["readOnly"]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"][
        "capabilities"
    ] == {"drop": ["ALL"]}
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "data", "readOnly": True}


@pytest.mark.parametrize(
    ("path", "ok"),
    [("a.csv", True), ("dir/sub", True), ("/etc/x", False), ("../x", False), ("", False)],
)
def test_check_path(path: str, ok: bool) -> None:
    assert (check_path(path) is None) is ok


@pytest.mark.parametrize(
    ("uri", "parsed", "problem"),
    [
        ("pvc://data/iris/train.csv", ("data", "iris/train.csv"), None),
        ("pvc://data/dir", ("data", "dir"), None),
        ("https://host/x.csv", None, None),
        ("/artifacts/x.csv", None, None),
        ("pvc://data/", ("data", ""), "must be relative"),
        ("pvc://data/../etc/passwd", ("data", "../etc/passwd"), "must not contain"),
        ("pvc://Bad_Claim/x.csv", ("Bad_Claim", "x.csv"), "not a PersistentVolumeClaim name"),
    ],
)
def test_pvc_uri(uri: str, parsed: tuple[str, str] | None, problem: str | None) -> None:
    assert parse_uri(uri) == parsed
    found = uri_problem(uri)
    assert (found is None) if problem is None else (found is not None and problem in found)


def _run_script(mount: Path, target: str, result: Path) -> int:
    env = {"PATH": "/usr/bin:/bin", "MOUNT": str(mount), "TARGET": target, "RESULT": str(result)}
    return subprocess.run(["sh", "-c", HASH_SCRIPT], env=env, check=False).returncode


def test_script_hashes_a_file_and_a_directory(tmp_path: Path) -> None:
    data = tmp_path / "claim"
    (data / "dir").mkdir(parents=True)
    (data / "dir" / "a.csv").write_bytes(b"1,2\n")
    (data / "dir" / "b.csv").write_bytes(b"3,4\n")
    result = tmp_path / "termination-log"
    assert _run_script(data, "dir/a.csv", result) == 0
    observed = parse_result(result.read_text(), exit_code=0)
    assert observed.value == "sha256:" + hashlib.sha256(b"1,2\n").hexdigest()
    assert _run_script(data, "dir", result) == 0
    first = parse_result(result.read_text(), exit_code=0).value
    assert json.loads(result.read_text())["files"] == 2
    (data / "dir" / "b.csv").write_bytes(b"3,5\n")
    assert _run_script(data, "dir", result) == 0
    assert parse_result(result.read_text(), exit_code=0).value not in (None, first)
    assert _run_script(data, "missing.csv", result) == 3
    missing = parse_result(result.read_text(), exit_code=3)
    assert missing.error is not None and missing.error.reason is ErrorReason.NOT_FOUND


def test_result_from_job_and_pods() -> None:
    running = {"status": {"active": 1}}
    assert result_from(parse(JobBody, running), []) is None
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    message = json.dumps({"kind": "file", "bytes": 4, "sha256": "f" * 64})
    pod = {
        "status": {
            "containerStatuses": [
                {"name": "hash", "state": {"terminated": {"exitCode": 0, "message": message}}}
            ]
        }
    }
    assert result_from(parse(JobBody, done), [parse(PodBody, pod)]).value == "sha256:" + "f" * 64  # type: ignore[union-attr]
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    timed_out = result_from(parse(JobBody, failed), [])
    assert (
        timed_out is not None
        and timed_out.error is not None
        and timed_out.error.reason is ErrorReason.TIMEOUT
    )
    garbage = parse_result("not json", exit_code=1)
    assert garbage.error is not None and "exit code 1" in garbage.error.message
