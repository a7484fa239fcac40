"""Issue 16, finding 1: a pipeline author cannot read a Secret through ``credentialsSecret``.

The attack: name any Secret of the namespace (a ServiceAccount token, a database
password) and point ``spec.code.git.url`` at your own server; the operator's
``git ls-remote`` used to send it there as HTTP Basic auth, and the clone
container (running the author's own image) had it mounted.

The model (docs/install.md, Threat model): a Secret lends credentials only when
it opts in (label ``modelpipe.io/credentials: "true"``) and only to the URL
prefixes it names (annotation ``modelpipe.io/url-prefixes``); never to another
host, not after a redirect either; and never into an image the author chose.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents
from tests.operator.builders import meta, observe, spec, step
from tests.security.conftest import Tenant
from tests.sources.servers import DataServer, GitServer, Repo

from localkube.waiting import wait_for
from modelpipe.api.sources import Credentials, ErrorReason, SecretRef
from modelpipe.api.v1alpha1.spec import DEFAULT_TRAINER_IMAGE
from modelpipe.inputs import Resolved, resolve
from modelpipe.manifests import training_job
from modelpipe.sources.credentials import (
    CREDENTIALS_LABEL,
    URL_PREFIXES_ANNOTATION,
    SecretView,
    lend,
    url_has_prefix,
)
from modelpipe.sources.gitref import resolve_git_ref

STOLEN = "eyJhbGciOiJSUzI1NiJ9.stolen-service-account-token"
REF = SecretRef("team", "victim")
URL = "https://git.example.com/ml/model.git"


def opted_in(*prefixes: str, **data: str) -> SecretView:
    return SecretView(
        labels={CREDENTIALS_LABEL: "true"},
        annotations={URL_PREFIXES_ANNOTATION: ", ".join(prefixes)},
        data=data or {"token": STOLEN},
    )


@pytest.mark.parametrize(
    ("url", "prefix", "covered"),
    [
        (URL, "https://git.example.com", True),
        (URL, "https://git.example.com/", True),
        (URL, "https://git.example.com/ml", True),
        (URL, "https://git.example.com/ml/model.git", True),
        (URL, "https://GIT.example.com:443/ml/", True),
        ("https://git.example.com/ml-evil/model.git", "https://git.example.com/ml", False),
        ("https://git.example.com.evil.io/ml/model.git", "https://git.example.com", False),
        ("https://evil.io/https://git.example.com/ml", "https://git.example.com", False),
        ("http://git.example.com/ml/model.git", "https://git.example.com", False),
        ("https://git.example.com:8443/ml/model.git", "https://git.example.com", False),
        ("https://git.example.com/ml/model.git", "git.example.com", False),
        ("https://git.example.com/ml/model.git", "https://git.example.com:99999", False),
    ],
)
def test_a_prefix_covers_its_origin_and_whole_path_segments(
    url: str, prefix: str, covered: bool
) -> None:
    assert url_has_prefix(url, prefix) is covered


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (SecretView(data={"token": STOLEN}), "not opted in"),
        (SecretView(labels={CREDENTIALS_LABEL: "yes"}, data={"token": STOLEN}), "not opted in"),
        (
            SecretView(labels={CREDENTIALS_LABEL: "true"}, data={"token": STOLEN}),
            "none of the prefixes",
        ),
        (opted_in("https://git.example.com/other"), "none of the prefixes"),
        (opted_in("https://attacker.example/", "http://git.example.com"), "none of the prefixes"),
    ],
    ids=["no-label", "label-not-true", "no-prefixes", "other-path", "other-hosts"],
)
def test_a_secret_that_did_not_opt_in_for_the_url_lends_nothing(
    secret: SecretView, why: str
) -> None:
    lent = lend(REF, secret, url=URL)
    assert lent.credentials is None and lent.error is not None
    assert lent.error.reason is ErrorReason.CREDENTIALS_REFUSED and why in lent.error.message
    assert STOLEN not in lent.error.message and "attacker" not in lent.error.message


def test_an_opted_in_secret_lends_to_its_prefixes_only() -> None:
    secret = opted_in("https://other.example", "https://git.example.com/ml")
    assert lend(REF, secret, url=URL).credentials == Credentials(token=STOLEN)
    assert "STOLEN" not in repr(secret) and STOLEN not in repr(secret)


def _pod(code: dict[str, Any]) -> dict[str, Any]:
    the_spec = spec(code=code)
    inputs = resolve(
        spec=the_spec, resolved=Resolved(code_revision="a" * 40), retrain_token=None,
        previous=None, now="2026-01-01T00:00:00Z",
    )  # fmt: skip
    pod: dict[str, Any] = training_job(
        meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None
    )["spec"]["template"]["spec"]
    return pod


def test_the_secret_is_never_mounted_into_an_image_the_author_chose() -> None:
    git = {"url": URL, "ref": "main", "credentialsSecret": "victim"}
    pod = _pod({"image": "attacker.example/steal:latest", "git": git, "test": {"command": ["x"]}})
    volume = next(v["name"] for v in pod["volumes"] if "secret" in v)
    mounted = [
        c for c in pod["initContainers"] + pod["containers"]
        if any(m["name"] == volume for m in c.get("volumeMounts", []))
    ]  # fmt: skip
    assert [c["name"] for c in mounted] == ["git-clone"]
    assert mounted[0]["image"] == DEFAULT_TRAINER_IMAGE != "attacker.example/steal:latest"


# ----- the operator's own ls-remote and the clone script, against real git --------------


@pytest.fixture
def other_host(repo: Repo) -> Iterator[GitServer]:
    """A git server on a second loopback address: the host a redirect leads to."""
    server = GitServer(repo.bare.parent, host="127.0.0.2")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redirector(other_host: GitServer) -> Iterator[DataServer]:
    """The host the Secret is for: it redirects every request to ``other_host``."""
    server = DataServer(redirect_to=other_host.base_url)
    server.start()
    yield server
    server.stop()


async def test_ls_remote_does_not_carry_credentials_through_a_redirect(
    redirector: DataServer, other_host: GitServer
) -> None:
    observation = await resolve_git_ref(
        url=f"{redirector.base_url}/model.git", ref="main",
        credentials=Credentials(token=STOLEN), timeout_seconds=20,
    )  # fmt: skip
    assert redirector.authorizations, "the Secret's own host gets the header"
    assert other_host.authorizations == [] and not other_host.requests
    assert observation.error is not None and observation.error.reason is ErrorReason.INVALID_SOURCE
    assert "redirect" in observation.error.message


def test_the_clone_does_not_follow_a_redirect_with_the_secret(
    redirector: DataServer, other_host: GitServer, tmp_path: Path
) -> None:
    url = f"{redirector.base_url}/model.git"
    clone = _pod({"revision": "a" * 40, "git": {"url": url, "credentialsSecret": "c"}})[
        "initContainers"
    ][0]
    env = {e["name"]: e["value"] for e in clone["env"]}
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "token").write_text(STOLEN)
    env |= {"SRC": str(tmp_path / "src"), "PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CREDENTIALS_DIR": str(credentials)}  # fmt: skip
    done = subprocess.run(clone["command"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert redirector.authorizations and other_host.authorizations == []


@pytest.mark.parametrize("revision", ["--upload-pack=touch /tmp/x", "-b", ""])
def test_the_clone_refuses_an_option_like_revision(revision: str, tmp_path: Path) -> None:
    clone = _pod({"revision": "v1", "git": {"url": "file:///nonexistent"}})["initContainers"][0]
    env = {e["name"]: e["value"] for e in clone["env"]}
    env |= {"SRC": str(tmp_path / "src"), "PATH": os.environ["PATH"], "GIT_REVISION": revision}
    done = subprocess.run(clone["command"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "refused" in done.stderr
    assert not (tmp_path / "src").exists()


# ----- on the local cluster, as a tenant with only ModelPipeline rights ------------------


def _victim(ns: Namespace, **metadata: Any) -> None:
    """A Secret the tenant cannot read (as an admin would create it)."""
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "victim", **metadata},
              "stringData": {"username": "robot", "token": STOLEN}}  # fmt: skip
    assert ns.apply(secret).returncode == 0


def _pipeline(
    ns: Namespace, tenant: Tenant, data_url: str, name: str, code: dict[str, Any]
) -> None:
    pvc, pipeline = example_documents(data_url=data_url, name=name)
    pipeline["spec"]["code"] = code
    assert ns.apply(pvc).returncode == 0
    done = tenant.apply(pipeline)
    assert done.returncode == 0, done.stderr


def _refused(ns: Namespace, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        pipeline = ns.pipeline(name)
        sources = condition(pipeline, "SourcesReady")
        ready = condition(pipeline, "Ready")
        refused = ("False", "CredentialsRefused")
        return pipeline if sources == refused and ready == refused else None

    return wait_for(f"{name}: SourcesReady and Ready False/CredentialsRefused", check, timeout=60)


def _leaked(ns: Namespace, pipeline: dict[str, Any], server: GitServer) -> list[str]:
    """Every place the Secret's value showed up: the server, status, events."""
    basic = base64.b64encode(f"robot:{STOLEN}".encode()).decode()
    seen = [a for a in server.authorizations if STOLEN in a or basic in a]
    seen += ["status"] if STOLEN in str(pipeline.get("status")) else []
    seen += [
        m for m in ns.kubectl("get", "events", "-o", "yaml").stdout.splitlines() if STOLEN in m
    ]
    return seen


@pytest.mark.cluster
@pytest.mark.slow
def test_a_tenant_cannot_exfiltrate_a_secret_through_a_followed_git_url(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str, git_server: GitServer
) -> None:
    _victim(ns)
    url = f"{git_server.base_url}/model.git"
    code = {"git": {"url": url, "ref": "main", "credentialsSecret": "victim"}}
    _pipeline(ns, tenant, data_url, "follow", code)
    # And with a pinned revision: nothing polls, but the clone would mount the Secret.
    pinned = {"revision": "a" * 40, "git": {"url": url, "credentialsSecret": "victim"}}
    _pipeline(ns, tenant, data_url, "pinned", pinned)
    for name in ("follow", "pinned"):
        pipeline = _refused(ns, name)
        message = next(c["message"] for c in pipeline["status"]["conditions"]
                       if c["type"] == "SourcesReady")  # fmt: skip
        assert "modelpipe.io/credentials" in message
        assert _leaked(ns, pipeline, git_server) == []
    assert ns.jobs("follow") == [] and ns.jobs("pinned") == []


@pytest.mark.cluster
@pytest.mark.slow
def test_an_opted_in_secret_is_sent_only_to_the_prefix_it_names(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str, repo: Repo,
    git_server: GitServer, other_host: GitServer,
) -> None:  # fmt: skip
    _victim(
        ns,
        labels={CREDENTIALS_LABEL: "true"},
        annotations={URL_PREFIXES_ANNOTATION: f"{git_server.base_url}/model.git"},
    )
    good = {"git": {"url": f"{git_server.base_url}/model.git", "ref": "main",
                    "credentialsSecret": "victim"}}  # fmt: skip
    _pipeline(ns, tenant, data_url, "good", good)
    evil = {"git": {"url": f"{other_host.base_url}/model.git", "ref": "main",
                    "credentialsSecret": "victim"}}  # fmt: skip
    _pipeline(ns, tenant, data_url, "evil", evil)
    _refused(ns, "evil")
    wait_for(
        "the opted-in Secret to resolve the good pipeline's branch",
        lambda: condition(ns.pipeline("good"), "SourcesReady") == ("True", "Resolved"),
        timeout=60,
    )
    assert git_server.authorizations, "the prefix's own host gets the credentials"
    assert other_host.authorizations == []


S3_PINNED = {"uri": "s3://ml-data/iris/train.csv", "version": "v1", "credentialsSecret": "victim",
             "schema": {"target": "species", "features": [{"name": "sepal_length"}]}}  # fmt: skip


@pytest.mark.parametrize(
    "pinned_fields",
    [
        {"code": {"revision": "a" * 40, "git": {"url": URL, "credentialsSecret": "victim"}}},
        {"dataset": S3_PINNED},  # dataset.credentialsSecret: the fetch-data container mounts it
    ],
    ids=["git", "s3"],
)
def test_a_refused_secret_starts_no_job_even_for_a_known_revision(
    pinned_fields: dict[str, Any],
) -> None:
    """Pinned inputs are never polled, but their Job would mount the Secret."""
    pinned = spec(**pinned_fields)
    refused = replace(observe(pinned), credentials_problem="Secret victim is not opted in")
    planned = step(refused)
    assert not [a for a in planned.actions if type(a).__name__ == "CreateJob"]
    ready = next(c for c in planned.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "CredentialsRefused")
    assert step(observe(pinned)).actions, "without the problem the Job is created"
