"""Issue 6 acceptance on the local cluster: a push or new data retrains, with nobody editing YAML.

Real pieces only: the apiserver and its admission, the operator as its console
script (tests/e2e/harness.py), git's smart-HTTP backend and an HTTP data server on
loopback (tests/sources/servers.py), and the trainer in real pods. The training
pod clones the followed branch itself (git-clone init container, with the
credentials Secret mounted as a volume) and its code test prints the commit it
checked out, so "at that SHA" is read from the pod, not only from our own status.

Poll intervals are 1 s and every wait is bounded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import conftest as e2e
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    example_documents,
    predict,
    runs,
    secret,
    serving_version,
)
from tests.sources.servers import DataServer, GitServer, Repo, Served

from localkube.cluster import Cluster
from localkube.waiting import wait_for

# Up to three trainings and rollouts a test: on a loaded machine more than the default 600 s.
pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]
# The e2e harness's fixtures: the CRD installed, the iris data server.
crd, data_url, ns = e2e.crd, e2e.data_url, e2e.ns
# The tests poll every second: below the operator's default floor (10 s), so lowered.
FAST_POLLS = ("--standalone", "--min-poll-interval", "1s")


@pytest.fixture
def operator(cluster: Cluster, ns: Namespace, tmp_path: Path) -> Iterator[Operator]:
    running = Operator(cluster, ns.name, tmp_path, extra_args=FAST_POLLS)
    running.start()
    yield running
    running.stop()
    print(running.logs()[-8000:])  # shown by pytest only when the test failed


SECRET = "git-creds"
# The code test runs in the checkout: it prints the commit the pod really trains from.
CODE_TEST = ["sh", "-c", "git rev-parse HEAD && test -s train.txt"]


@pytest.fixture
def data(data_server: DataServer, iris_csv: dict[str, bytes]) -> Iterator[str]:
    """A followed dataset URL, serving v1 with an ETag."""
    yield data_server.put("/iris.csv", Served(iris_csv["v1"]))


def documents(
    data_url: str,
    *,
    name: str = "iris",
    code: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    **spec: Any,
) -> list[dict[str, Any]]:
    """The iris example, its code and dataset replaced (``None`` values are removed)."""
    docs = example_documents(data_url=data_url, name=name)
    pipeline = docs[1]["spec"]
    # Serving pods start slowly on a loaded machine; the 20 s of the e2e harness rolled back.
    pipeline["serving"]["progressDeadlineSeconds"] = 120
    if code is not None:
        pipeline["code"] = code
    for key, value in (dataset or {}).items():
        if value is None:
            pipeline["dataset"].pop(key, None)
        else:
            pipeline["dataset"][key] = value
    pipeline.update(spec)
    return docs


def follow_branch(url: str, *, ref: str = "main", secret: str | None = None) -> dict[str, Any]:
    git: dict[str, Any] = {"url": url, "ref": ref, "pollInterval": "1s"}
    if secret:
        git["credentialsSecret"] = secret
    return {"git": git, "test": {"command": CODE_TEST}}


def follow_data(url: str, **extra: Any) -> dict[str, Any]:
    return {"uri": url, "version": None, "pollInterval": "1s", **extra}


def promoted(ns: Namespace, *, besides: str | None = None, timeout: float = 360) -> str:
    """Wait until a model other than ``besides`` is in status and answers requests."""

    def check() -> str | None:
        version = serving_version(ns.pipeline())
        answer = predict(ns) if version and version != besides else None
        return version if answer and answer["model_version"] == version else None

    return wait_for(f"a model other than {besides} to serve", check, timeout=timeout)


def sources_ready(
    ns: Namespace, want: str, *, reason: str | None = None, name: str = "iris"
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        pipeline = ns.pipeline(name)
        found = condition(pipeline, "SourcesReady")
        ok = found is not None and found[0] == want and (reason is None or found[1] == reason)
        return pipeline if ok else None

    return wait_for(f"SourcesReady={want} {reason or ''} on {name}", check, timeout=90)


def job_annotation(ns: Namespace, job: str, key: str) -> str:
    found = ns.get("job", job)
    assert found is not None, f"Job {job} is gone"
    return str(found["metadata"]["annotations"][f"modelpipe.io/{key}"])


def checked_out(ns: Namespace, job: str) -> str:
    """The commit the pod's code test printed from inside its checkout."""
    logs = ns.kubectl("logs", f"job/{job}", "-c", "code-test").stdout.split()
    assert logs, f"Job {job}'s code test printed nothing"
    return logs[0]


def revisions(ns: Namespace) -> list[str]:
    return sorted(job_annotation(ns, j, "code-revision") for j in ns.jobs())


def still(ns: Namespace, jobs: list[str], *, seconds: float = 4) -> None:
    """Nothing new starts for a while (several poll intervals)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert ns.jobs() == jobs, f"unexpected Jobs: {ns.jobs()} (had {jobs})"
        time.sleep(0.5)


def test_push_runs_once_at_that_commit_and_a_burst_folds(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    repo: Repo,
    auth_git_server: GitServer,
) -> None:
    url = f"{auth_git_server.base_url}/model.git"
    creds = secret(SECRET, prefix=url, username="alice", password="s3cret-pass")
    assert ns.apply(creds).returncode == 0
    spec = documents(
        data_url, code=follow_branch(url, secret=SECRET), triggers={"quietPeriod": "5s"}
    )
    assert ns.apply(*spec).returncode == 0
    c0 = repo.head()
    first = promoted(ns)
    (job0,) = ns.jobs()
    assert job_annotation(ns, job0, "code-revision") == c0 == checked_out(ns, job0)
    inputs = ns.pipeline()["status"]["inputs"]
    assert (inputs["codeRevision"], inputs["codeRevisionFrom"]) == (c0, "Followed")
    assert inputs["codeResolvedAt"] and inputs["datasetVersionFrom"] == "Pinned"

    # One push: exactly one Job, at that commit, and its model is promoted.
    c1 = repo.commit("second")
    second = promoted(ns, besides=first)
    (job1,) = [j for j in ns.jobs() if j != job0]
    assert job_annotation(ns, job1, "code-revision") == c1 == checked_out(ns, job1)
    assert any(f"{c0} -> {c1}" in m for m in ns.events("SourceChanged"))
    production = ns.pipeline()["status"]["production"]
    assert (production["modelVersion"], production["codeRevision"]) == (second, c1)

    # Two pushes within the quiet period: one run, on the last of them.
    c2 = repo.commit("third")
    time.sleep(2.5)  # more than two poll intervals: the operator sees c2, then c3
    c3 = repo.commit("fourth")
    third = promoted(ns, besides=second)
    still(ns, ns.jobs())
    changes = ns.events("SourceChanged")
    assert any(f"{c1} -> {c2}" in m for m in changes) and any(f"{c2} -> {c3}" in m for m in changes)
    # c2 never ran: no Job, not even one started and superseded (those are deleted).
    assert revisions(ns) == sorted([c0, c1, c3])
    assert not [m for m in ns.events("JobCreated") if c2 in m]
    assert not [r for r in runs(ns.pipeline()) if r.get("codeRevision") == c2]
    (job3,) = [j for j in ns.jobs() if j not in (job0, job1)]
    assert checked_out(ns, job3) == c3
    assert serving_version(ns.pipeline()) == third


def test_new_rows_over_http_run_once_and_reach_lineage(
    ns: Namespace,
    operator: Operator,
    cluster: Cluster,
    data_server: DataServer,
    data: str,
    iris_csv: dict[str, bytes],
) -> None:
    assert ns.apply(*documents(data, dataset=follow_data(data))).returncode == 0
    v1, v2 = (Served(iris_csv[n]).version for n in ("v1", "v2"))
    first = promoted(ns)
    inputs = ns.pipeline()["status"]["inputs"]
    assert (inputs["datasetVersion"], inputs["datasetVersionFrom"]) == (v1, "Followed")
    (job0,) = ns.jobs()

    data_server.put("/iris.csv", Served(iris_csv["v2"]))  # new rows, new ETag
    second = promoted(ns, besides=first)
    still(ns, ns.jobs())
    (job1,) = [j for j in ns.jobs() if j != job0]
    assert job_annotation(ns, job1, "dataset-version") == v2
    status = ns.pipeline()["status"]
    digest = hashlib.sha256(iris_csv["v2"]).hexdigest()
    run = next(r for r in runs({"status": status}) if r["modelVersion"] == second)
    assert (run["datasetVersion"], run["dataHash"], run["verdict"]) == (v2, digest, "Promoted")
    assert (status["production"]["datasetVersion"], status["production"]["dataHash"]) == (
        v2,
        digest,
    )
    lineage = lineage_of(cluster, ns, second)
    assert (lineage["dataset"]["version"], lineage["dataset"]["sha256"]) == (v2, digest)
    assert lineage["dataset"]["rows"] == 150
    assert any(f"{v1} -> {v2}" in m for m in ns.events("SourceChanged"))


def lineage_of(cluster: Cluster, ns: Namespace, version: str) -> dict[str, Any]:
    """lineage.json as the trainer wrote it on the artifacts claim (a host directory here)."""
    claims = cluster.volumes_dir / ns.name
    found = sorted(claims.rglob(f"{version}/lineage.json"))
    assert found, f"no lineage.json for model {version} under {claims}"
    document: dict[str, Any] = json.loads(Path(found[0]).read_text())
    return document


def message_of(pipeline: dict[str, Any], type_: str) -> str:
    found = [c for c in pipeline["status"].get("conditions", []) if c["type"] == type_]
    return str(found[0]["message"]) if found else ""


OUTAGE = ("False", "SourceFailed")


def unchanged(
    ns: Namespace, jobs: list[str], serving: str, ready: tuple[str, str] = ("True", "Serving")
) -> None:
    """Production untouched and nothing run, over several poll intervals.

    During an outage Ready is False/SourceFailed (the spec cannot take effect) while the
    model keeps serving; once the source is back it is True/Serving again.
    """
    still(ns, jobs)
    pipeline = ns.pipeline()
    assert serving_version(pipeline) == serving
    assert condition(pipeline, "Ready") == ready
    answer = predict(ns)
    assert answer is not None and answer["model_version"] == serving


def test_unreachable_sources_hold_production_and_recover(
    ns: Namespace,
    operator: Operator,
    repo: Repo,
    git_server: GitServer,
    data_server: DataServer,
    data: str,
) -> None:
    url = f"{git_server.base_url}/model.git"
    spec = documents(data, code=follow_branch(url), dataset=follow_data(data))
    assert ns.apply(*spec).returncode == 0
    first = promoted(ns)
    jobs = ns.jobs()

    # The git server goes away; a commit pushed meanwhile is seen once it is back.
    git_server.stop()
    down = sources_ready(ns, "False", reason="Unreachable")
    assert f"code ({url}@main): Unreachable" in message_of(down, "SourcesReady")
    c1 = repo.commit("pushed during the outage")
    unchanged(ns, jobs, first, OUTAGE)
    git_server.start()
    sources_ready(ns, "True", reason="Resolved")
    second = promoted(ns, besides=first)
    (job1,) = [j for j in ns.jobs() if j not in jobs]
    assert job_annotation(ns, job1, "code-revision") == c1 == checked_out(ns, job1)
    assert any(m.startswith(f"code ({url}@main): Unreachable") for m in ns.events("SourceFailed"))
    assert any(m.startswith("code (") for m in ns.events("SourceRecovered"))

    # The data server goes away: the same, and nothing to retrain when it returns unchanged.
    jobs = ns.jobs()
    data_server.stop()
    down = sources_ready(ns, "False", reason="Unreachable")
    assert f"dataset ({data}): Unreachable" in message_of(down, "SourcesReady")
    row = next(r for r in down["status"]["sources"] if r["name"] == "dataset")
    assert row["resolved"].startswith("etag:") and row["consecutiveFailures"] >= 1
    unchanged(ns, jobs, second, OUTAGE)
    data_server.start()
    sources_ready(ns, "True", reason="Resolved")
    unchanged(ns, jobs, second)
    assert any(m.startswith(f"dataset ({data})") for m in ns.events("SourceRecovered"))


def test_bad_sources_are_clear_conditions_and_a_bad_cron_is_refused(
    ns: Namespace,
    operator: Operator,
    data_url: str,
    git_server: GitServer,
    auth_git_server: GitServer,
    data_server: DataServer,
    iris_csv: dict[str, bytes],
) -> None:
    private = f"{auth_git_server.base_url}/model.git"
    html = data_server.put("/login", Served(b"<!DOCTYPE html><html>Sign in</html>", "text/html"))
    big = data_server.put("/big.csv", Served(iris_csv["v2"]))
    wrong = secret("wrong", prefix=private, username="alice", password="not-the-password")
    assert ns.apply(wrong).returncode == 0
    # name -> (spec changes, SourcesReady reason, words the message must contain)
    cases: dict[str, tuple[dict[str, Any], str, str]] = {
        "no-ref": (
            {"code": follow_branch(f"{git_server.base_url}/model.git", ref="no-such-branch")},
            "RefNotFound",
            "no-such-branch",
        ),
        "wrong-creds": (
            {"code": follow_branch(private, secret="wrong")},
            "AuthenticationFailed",
            "",
        ),
        "no-secret": (
            {"code": follow_branch(private, secret="missing")},
            "AuthenticationFailed",
            "not found",
        ),
        "html": ({"dataset": follow_data(html)}, "NotData", ""),
        "too-big": ({"dataset": follow_data(big, maxBytes=1000)}, "TooLarge", "1000"),
        # The CEL shape passes; the minute 61 does not exist: a condition, not a crash.
        "bad-minute": ({"schedule": "61 * * * *", "suspend": True}, "InvalidSchedule", "61"),
    }
    for name, (spec, _, _) in cases.items():
        assert ns.apply(*documents(data_url, name=name, **spec)).returncode == 0, name
    for name, (_, reason, says) in cases.items():
        pipeline = sources_ready(ns, "False", reason=reason, name=name)
        text = message_of(pipeline, "SourcesReady")
        assert says in text, f"{name}: {text}"
        if name != "bad-minute":
            # A missing Secret would fail the clone as well: the run is refused outright.
            # Not waiting: the followed source fails, so the spec cannot take effect.
            waits = "CredentialsRefused" if name == "no-secret" else "SourceFailed"
            assert condition(pipeline, "Ready") == ("False", waits), name
    assert ns.items("jobs") == []
    assert "not-the-password" not in ns.kubectl("get", "modelpipelines", "-o", "json").stdout
    assert any("wrong-creds" in e for e in _event_objects(ns, "SourceFailed"))

    refused = ns.apply(*documents(data_url, name="bad-cron", schedule="every night"))
    assert refused.returncode != 0
    assert "schedule must be five cron fields" in refused.stderr
    assert ns.get("modelpipeline", "bad-cron") is None


def _event_objects(ns: Namespace, reason: str) -> list[str]:
    """Names of the pipelines that got an Event with ``reason``."""
    return [
        e["involvedObject"]["name"]
        for e in ns.items("events")
        if e.get("reason") == reason and e["involvedObject"]["kind"] == "ModelPipeline"
    ]
