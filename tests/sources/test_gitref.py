"""git ref -> SHA: pure parts table-driven, the resolver against git's real smart-HTTP backend."""

from __future__ import annotations

import pytest
from tests.sources.servers import GitServer, Repo

from modelpipe.api.sources import Credentials, ErrorReason
from modelpipe.sources.gitref import (
    build_command,
    build_env,
    check_ref,
    classify_failure,
    resolve_git_ref,
    select_commit,
)

A, B, C = "a" * 40, "b" * 40, "c" * 40
LISTING = f"{A}\trefs/heads/main\n{B}\trefs/tags/v1\n{C}\trefs/tags/v1^{{}}\n{B}\trefs/heads/dup\n"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("main", A),
        ("refs/heads/main", A),
        ("v1", C),  # an annotated tag resolves to its commit
        ("refs/tags/v1", C),
        ("missing", None),
        ("HEAD", None),
    ],
)
def test_select_commit(ref: str, expected: str | None) -> None:
    assert select_commit(LISTING, ref=ref) == expected


def test_branch_wins_over_tag_of_the_same_name() -> None:
    listing = f"{A}\trefs/tags/main\n{B}\trefs/heads/main\n"
    assert select_commit(listing, ref="main") == B


@pytest.mark.parametrize("ref", ["main", "feature/x", "v1.2.3", "HEAD", "refs/heads/main"])
def test_valid_refs(ref: str) -> None:
    assert check_ref(ref) is None


@pytest.mark.parametrize("ref", ["", "-x", "a..b", "a b", "a:b", "x.lock", "a/", "/a", "a@{1}"])
def test_invalid_refs(ref: str) -> None:
    assert check_ref(ref) is not None


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        ("fatal: Authentication failed for 'http://h/r.git/'", ErrorReason.AUTH_FAILED),
        (
            "fatal: could not read Username for 'http://h': terminal prompts disabled",
            ErrorReason.AUTH_FAILED,
        ),
        ("fatal: repository 'http://h/x.git/' not found", ErrorReason.NOT_FOUND),
        (
            "fatal: unable to access 'http://h/': Failed to connect to h port 1",
            ErrorReason.UNREACHABLE,
        ),
        (
            "fatal: unable to access 'x': The requested URL returned error: 502",
            ErrorReason.SERVER_ERROR,
        ),
        ("", ErrorReason.UNREACHABLE),
    ],
)
def test_classify_failure(stderr: str, reason: ErrorReason) -> None:
    error = classify_failure(returncode=128, stderr=stderr)
    assert error.reason is reason
    assert not error.message.startswith("fatal:")


def test_credentials_never_on_the_command_line() -> None:
    creds = Credentials(username="alice", password="hunter2")
    command = build_command(url="https://git.example/r.git", ref="main")
    env = build_env(url="https://git.example/r.git", credentials=creds, base={"PATH": "/bin"})
    assert "hunter2" not in " ".join(command)
    config = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert config["http.https://git.example/.extraHeader"].startswith("Authorization: Basic ")
    assert config["http.followRedirects"] == "false"
    assert "hunter2" not in repr(creds)


def test_operator_environment_does_not_leak_into_git() -> None:
    env = build_env(
        url="git://h/r", credentials=None, base={"PATH": "/bin", "GIT_DIR": "/x", "HOME": "/root"}
    )
    assert "GIT_DIR" not in env
    assert env["HOME"] == "/nonexistent"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_0"]) == ("1", "http.followRedirects")


async def _resolve(
    url: str, ref: str, creds: Credentials | None = None
) -> tuple[str | None, ErrorReason | None, str]:
    observation = await resolve_git_ref(url=url, ref=ref, credentials=creds, timeout_seconds=20)
    error = observation.error
    return observation.value, error.reason if error else None, error.message if error else ""


async def test_resolves_branch_and_follows_pushes(git_server: GitServer, repo: Repo) -> None:
    url = f"{git_server.base_url}/model.git"
    assert await _resolve(url, "main") == (repo.head(), None, "")
    pushed = repo.commit("second")
    value, _, _ = await _resolve(url, "main")
    assert value == pushed
    assert git_server.requests["info/refs"] == 2


async def test_resolves_tags(git_server: GitServer, repo: Repo) -> None:
    repo.tag("v1", annotated=True)
    repo.tag("light", annotated=False)
    url = f"{git_server.base_url}/model.git"
    assert (await _resolve(url, "v1"))[0] == repo.head()
    assert (await _resolve(url, "light"))[0] == repo.head()


async def test_missing_ref(git_server: GitServer) -> None:
    value, reason, message = await _resolve(f"{git_server.base_url}/model.git", "nope")
    assert (value, reason) == (None, ErrorReason.REF_NOT_FOUND)
    assert "'nope'" in message


async def test_missing_repository(git_server: GitServer) -> None:
    _, reason, _ = await _resolve(f"{git_server.base_url}/other.git", "main")
    assert reason is ErrorReason.NOT_FOUND


async def test_basic_auth(auth_git_server: GitServer, repo: Repo) -> None:
    url = f"{auth_git_server.base_url}/model.git"
    good = Credentials(username="alice", password="s3cret-pass")
    assert (await _resolve(url, "main", good))[0] == repo.head()
    for creds in (Credentials(username="alice", password="wrong"), None):
        value, reason, message = await _resolve(url, "main", creds)
        assert (value, reason) == (None, ErrorReason.AUTH_FAILED)
        assert "s3cret" not in message and "wrong" not in message


async def test_token_is_sent_as_basic_password(tmp_path: object, repo: Repo) -> None:
    server = GitServer(repo.bare.parent, auth=("x-access-token", "tok-123"))
    server.start()
    try:
        url = f"{server.base_url}/model.git"
        assert (await _resolve(url, "main", Credentials(token="tok-123")))[0] == repo.head()
    finally:
        server.stop()


async def test_stopped_server_is_unreachable(git_server: GitServer) -> None:
    url = f"{git_server.base_url}/model.git"
    git_server.stop()
    value, reason, _ = await _resolve(url, "main")
    assert (value, reason) == (None, ErrorReason.UNREACHABLE)


@pytest.mark.parametrize(
    "url",
    ["http://alice:pw@127.0.0.1/r.git", "ext::sh -c touch% /tmp/pwned", "file:///etc", "-u", ""],
)
async def test_refused_urls(url: str) -> None:
    value, reason, message = await _resolve(url, "main")
    assert (value, reason) == (None, ErrorReason.INVALID_SOURCE)
    assert "pw@" not in message


def test_connection_refused_on_a_port_containing_403_is_unreachable() -> None:
    stderr = (
        "fatal: unable to access 'http://127.0.0.1:40369/model.git/': Failed to connect to "
        "127.0.0.1 port 40369 after 0 ms: Couldn't connect to server"
    )
    error = classify_failure(returncode=128, stderr=stderr)
    assert error.reason is ErrorReason.UNREACHABLE
