"""The seam to the operator: which sources a spec follows, and the threaded follower."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests.sources.servers import DataServer, GitServer, Repo, Served

from localkube.waiting import wait_for
from modelpipe.api.sources import ErrorReason, SecretRef, SourceKind
from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.k8s.systemclock import SystemClock
from modelpipe.sources.credentials import Lent, lend
from modelpipe.sources.follower import SourceFollower, follows, resolved
from modelpipe.sources.limits import SourceLimits

GIT = "https://git.example/model.git"
QUICK: dict[str, Any] = {"timeout": 20.0, "every": 0.02}  # in-process pollers, no cluster


def make_spec(code: dict[str, Any], dataset: dict[str, Any]) -> ModelPipelineSpec:
    return ModelPipelineSpec.model_validate(
        {
            "code": code,
            "dataset": {"schema": {"target": "y", "features": [{"name": "x"}]}, **dataset},
            "training": {"estimator": {"className": "sklearn.linear_model.LogisticRegression"}},
            "serving": {"template": {}},
            "artifacts": {"pvc": "models"},
        }
    )


PINNED = make_spec(
    {"revision": "abc", "git": {"url": GIT, "ref": "main"}},
    {"uri": "https://d/x.csv", "version": "v1"},
)


def test_pinned_inputs_follow_nothing() -> None:
    assert follows(PINNED, namespace="ml") == {}


def test_followed_inputs() -> None:
    spec = make_spec(
        {"git": {"url": GIT, "ref": "main", "pollInterval": "30s", "credentialsSecret": "git"}},
        {"uri": "https://d/x.csv", "maxBytes": 1000},
    )
    wished = follows(spec, namespace="ml")
    code, data = wished["code"], wished["dataset"]
    assert (code.key.kind, code.key.ref, code.key.secret, code.interval_seconds) == (
        SourceKind.GIT, "main", SecretRef("ml", "git"), 30.0,
    )  # fmt: skip
    assert (data.key.kind, data.key.max_bytes, data.interval_seconds) == (
        SourceKind.HTTP,
        1000,
        60.0,
    )


def test_manifest_is_followed_instead_of_the_file() -> None:
    spec = make_spec(
        {"revision": "abc"}, {"uri": "s3-mirror/x.csv", "manifestUri": "https://d/x.dvc"}
    )
    assert follows(spec, namespace="ml")["dataset"].key.kind is SourceKind.MANIFEST


@pytest.fixture
def follower() -> Any:
    changes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_change(namespace: str, name: str) -> None:
        with lock:
            changes.append((namespace, name))

    instance = SourceFollower(
        on_change=on_change, clock=SystemClock(), rate_per_second=100, burst=100,
        limits=SourceLimits(min_interval_seconds=1),
    )  # fmt: skip
    instance.changes = changes  # type: ignore[attr-defined]
    yield instance
    instance.stop()


def test_follower_resolves_and_calls_back(
    follower: Any, git_server: GitServer, repo: Repo, data_server: DataServer
) -> None:
    url = data_server.put("/x.csv", Served(b"x,y\n1,0\n"))
    spec = make_spec(
        {"git": {"url": f"{git_server.base_url}/model.git", "ref": "main", "pollInterval": "1s"}},
        {"uri": url, "pollInterval": "1s"},
    )

    def sync() -> Any:
        return follower.sync(namespace="ml", name="iris", spec=spec, code_credentials=Lent())

    sync()
    wait_for("a change told", lambda: ("ml", "iris") in follower.changes, **QUICK)
    wait_for("every source resolved", lambda: all(s.state.value for s in sync().values()), **QUICK)
    values, rows = resolved(sync())
    assert values.code_revision == repo.head()
    assert (values.dataset_version or "").startswith("etag:")
    assert [r.name for r in rows] == ["code", "dataset"]
    follower.changes.clear()
    pushed = repo.commit("new")
    wait_for("the pushed commit", lambda: sync()["code"].state.value == pushed, **QUICK)
    wait_for("a change told", lambda: ("ml", "iris") in follower.changes, **QUICK)
    follower.forget(namespace="ml", name="iris")
    assert follower.registry.snapshot("ml/iris") == {}


def test_missing_secret_is_reported(follower: Any) -> None:
    spec = make_spec(
        {"git": {"url": GIT, "ref": "main", "credentialsSecret": "nope"}},
        {"uri": "x", "version": "1"},
    )
    lent = lend(SecretRef("ml", "nope"), None, url=GIT)
    snapshots = follower.sync(namespace="ml", name="p", spec=spec, code_credentials=lent)
    state = snapshots["code"].state
    assert state.error is not None and state.error.reason is ErrorReason.AUTH_FAILED
    assert "Secret ml/nope not found" in state.error.message


def test_refused_secret_is_reported_and_nothing_is_polled(follower: Any) -> None:
    spec = make_spec(
        {"git": {"url": GIT, "ref": "main", "credentialsSecret": "git"}},
        {"uri": "x", "version": "1"},
    )
    why = "cannot read Secret ml/git: Forbidden"
    lent = lend(SecretRef("ml", "git"), None, url=GIT, problem=why)
    state = follower.sync(namespace="ml", name="p", spec=spec, code_credentials=lent)["code"].state
    assert state.error is not None and "cannot read Secret ml/git: Forbidden" in state.error.message
    assert follower.registry.snapshot("ml/p") == {}
