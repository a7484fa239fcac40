"""The git-clone init container: its script run for real against git's HTTP backend.

The container's own ``sh -c`` script and env run on this machine, with the Secret
as files in a directory (what the volume mount gives the pod), so what is tested is
exactly what the pod runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.operator.builders import meta, spec
from tests.sources.servers import GitServer, Repo

from modelpipe.inputs import Resolved, resolve
from modelpipe.manifests import training_job
from modelpipe.manifests.gitclone import CREDENTIALS_MOUNT, auth_origin

PASSWORD = "s3cret-pass"  # the auth_git_server fixture's password


def _pod(git: dict[str, Any], revision: str) -> dict[str, Any]:
    """The training pod following ``git``, resolved to ``revision`` as plan() would."""
    the_spec = spec(code={"revision": None if "ref" in git else revision, "git": git})
    inputs = resolve(
        spec=the_spec,
        resolved=Resolved(code_revision=revision),
        retrain_token=None,
        previous=None,
        now="2026-01-01T00:00:00Z",
    )
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None)
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def _run_clone(
    pod: dict[str, Any], *, src: Path, secret: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """Run the git-clone container's command with its env, the Secret as files."""
    clone = pod["initContainers"][0]
    env = {e["name"]: e["value"] for e in clone["env"]}
    env["SRC"] = str(src)
    env["PATH"] = os.environ["PATH"]
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    if secret is not None:
        directory = src.parent / "credentials"
        directory.mkdir()
        for key, value in secret.items():
            (directory / key).write_text(value)
        env["GIT_CREDENTIALS_DIR"] = str(directory)
    return subprocess.run(
        clone["command"], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _head(src: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize(
    "secret",
    [{"username": "alice", "password": PASSWORD}, {"username": "alice", "token": PASSWORD}],
    ids=["username-password", "token"],
)
def test_clone_with_the_secret_at_the_resolved_revision(
    auth_git_server: GitServer, repo: Repo, tmp_path: Path, secret: dict[str, str]
) -> None:
    first = repo.head()
    repo.commit("second")
    url = f"{auth_git_server.base_url}/model.git"
    pod = _pod({"url": url, "ref": "main", "credentialsSecret": "git-creds"}, first)
    done = _run_clone(pod, src=tmp_path / "src", secret=secret)
    assert done.returncode == 0, done.stderr
    assert _head(tmp_path / "src") == first
    # Nothing of the Secret is persisted in the checkout the trainer reads.
    assert PASSWORD not in (tmp_path / "src" / ".git" / "config").read_text()


def test_wrong_credentials_fail_the_clone_without_prompting(
    auth_git_server: GitServer, repo: Repo, tmp_path: Path
) -> None:
    url = f"{auth_git_server.base_url}/model.git"
    pod = _pod({"url": url, "ref": "main", "credentialsSecret": "git-creds"}, repo.head())
    done = _run_clone(
        pod, src=tmp_path / "src", secret={"username": "alice", "password": "wrong-pass"}
    )
    assert done.returncode != 0
    # The server refused the header; git then wants a password and, with prompts off, stops.
    assert "terminal prompts disabled" in done.stderr and "wrong-pass" not in done.stderr


def test_the_secret_is_a_volume_of_the_clone_container_only() -> None:
    pod = _pod(
        {"url": "https://git.example/ml/iris.git", "ref": "main", "credentialsSecret": "git-creds"},
        "a" * 40,
    )
    volume = next(v for v in pod["volumes"] if "secret" in v)
    assert volume["secret"]["secretName"] == "git-creds"
    clone, train = pod["initContainers"][0], pod["containers"][0]
    assert {"name": volume["name"], "mountPath": CREDENTIALS_MOUNT, "readOnly": True} in clone[
        "volumeMounts"
    ]
    assert all(m["name"] != volume["name"] for m in train["volumeMounts"])
    # No value in the spec comes from the Secret: no secretKeyRef, no envFrom.
    text = json.dumps(pod)
    assert "secretKeyRef" not in text and "envFrom" not in text
    env = {e["name"]: e["value"] for e in clone["env"]}
    assert env["GIT_REVISION"] == "a" * 40
    assert env["GIT_AUTH_ORIGIN"] == "https://git.example/"


def test_without_a_secret_nothing_is_mounted() -> None:
    pod = _pod({"url": "https://git.example/ml/iris.git"}, "v1")
    assert all("secret" not in v for v in pod["volumes"])
    assert "GIT_AUTH_ORIGIN" not in {e["name"] for e in pod["initContainers"][0]["env"]}


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://git.example/ml/iris.git", "https://git.example/"),
        ("http://127.0.0.1:8080/a/b.git", "http://127.0.0.1:8080/"),
        ("ssh://git@git.example/ml/iris.git", None),
        ("file:///repo", None),
    ],
)
def test_auth_origin(url: str, origin: str | None) -> None:
    assert auth_origin(url) == origin
