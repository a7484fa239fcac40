"""Issue 16, finding 3: the operator's requests on a pipeline author's behalf (SSRF).

The attacks: a followed URL at the cloud's metadata service (169.254.169.254,
``metadata.google.internal``) or at the API server's in-cluster name, directly,
through a name that resolves there, or through a redirect; and server responses
echoed into status (an internal ETag as ``datasetVersion``, a YAML parse error
quoting a ``db_password:`` line, a manifest path).

No test here touches a network beyond loopback: metadata addresses are refused
before a connection is attempted, and names resolve through a stub resolver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents
from tests.security.conftest import Tenant
from tests.sources.servers import DataServer, GitServer, Repo, Served

from localkube.waiting import wait_for
from modelpipe.api.sources import ErrorReason, Observation
from modelpipe.sources.egress import EgressPolicy, PolicyError
from modelpipe.sources.egress_guard import guarded_client
from modelpipe.sources.gitref import classify_failure, resolve_git_ref
from modelpipe.sources.httpdata import HttpCheck, resolve_http_dataset
from modelpipe.sources.manifest import resolve_manifest

NOW = datetime(2026, 12, 3, tzinfo=UTC)
SECRET_LINE = "db_password: hunter2-from-the-internal-config"


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254", "169.254.170.2", "[fe80::1]", "fe80::1%25eth0", "[fd00:ec2::254]",
        "100.100.100.200", "[::ffff:169.254.169.254]", "0.0.0.0", "[::]",
        "metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "metadata", "metadata.goog",
        "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
        # Numeric forms a resolver reads as 169.254.169.254.
        "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518",
    ],
)  # fmt: skip
def test_metadata_and_link_local_destinations_are_refused_by_default(host: str) -> None:
    refused = EgressPolicy().check_host(host)
    assert refused and "refuse" in refused


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.96.0.1", "git.example.com", "[2001:db8::1]", "data-01.internal"]
)
def test_ordinary_destinations_pass_by_default(host: str) -> None:
    assert EgressPolicy().check_host(host) is None


def test_the_platform_denies_and_allows_more() -> None:
    policy = EgressPolicy.from_rules(
        deny=["10.96.0.0/12", "127.0.0.0/8", ".corp.example", "vault"],
        allow=["169.254.20.0/24", "metadata"],
    )
    assert policy.check_host("10.96.0.1") and policy.check_host("127.0.0.1")
    assert policy.check_host("db.corp.example") and policy.check_host("vault")
    assert policy.check_host("corp.example") is None  # the dot means "under", not the name
    assert policy.check_host("169.254.20.5") is None  # an allowed CIDR wins
    assert policy.check_host("169.254.169.254")
    # An allowed name skips the name check, not the check of its addresses.
    assert policy.check_host("metadata") is None
    assert policy.check_address("169.254.169.254", host="metadata")
    with pytest.raises(PolicyError, match="neither a CIDR nor a host name"):
        EgressPolicy.from_rules(deny=["not a host!"])
    with pytest.raises(PolicyError, match="not a CIDR"):
        EgressPolicy.from_rules(deny=["10.0.0.0/33"])


class StubDNS:
    """A resolver the test controls: names -> addresses, and which names were asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


@pytest.fixture
def dns() -> StubDNS:
    return StubDNS(
        {
            "data.test": ["127.0.0.1"],
            "git.test": ["127.0.0.1"],
            "rebound.test": ["169.254.169.254"],
            "split.test": ["127.0.0.1", "169.254.169.254"],
        }
    )


@pytest.fixture
async def client(dns: StubDNS) -> AsyncIterator[httpx.AsyncClient]:
    guarded = guarded_client(EgressPolicy(), timeout_seconds=10, resolver=dns)
    yield guarded
    await guarded.aclose()


async def _dataset(client: httpx.AsyncClient, url: str) -> Observation:
    check = HttpCheck(
        client=client, url=url, credentials=None, max_bytes=1 << 20, previous=None, now=NOW
    )
    return await resolve_http_dataset(check)


def _refused(observation: Observation) -> str:
    assert observation.error is not None, observation
    assert observation.error.reason is ErrorReason.DESTINATION_REFUSED, observation.error
    return observation.error.message


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://kubernetes.default.svc/api/v1/secrets",
        "http://2852039166/latest/meta-data/",
    ],
)
async def test_a_dataset_url_at_the_metadata_service_is_refused(
    client: httpx.AsyncClient, dns: StubDNS, url: str
) -> None:
    _refused(await _dataset(client, url))
    assert dns.asked == []  # refused on the name: nothing resolved, nothing connected


@pytest.mark.parametrize("host", ["rebound.test", "split.test"])
async def test_a_name_resolving_to_a_refused_address_is_refused(
    client: httpx.AsyncClient, dns: StubDNS, host: str
) -> None:
    assert "169.254.169.254" in _refused(await _dataset(client, f"http://{host}/x.csv"))
    assert dns.asked == [host]


async def test_the_address_checked_is_the_address_connected_to(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    """data.test exists only in the stub: reaching the server proves the checked IP was used."""
    data_server.put("/x.csv", Served(b"a,b\n1,2\n"))
    observation = await _dataset(client, f"http://data.test:{data_server.port}/x.csv")
    assert observation.error is None and observation.value


async def test_a_redirect_to_the_metadata_service_is_refused_at_the_hop(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    target = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    data_server.status_override["/x.csv"] = (302, {"Location": target})
    _refused(await _dataset(client, f"{data_server.base_url}/x.csv"))
    assert data_server.requests["/x.csv"] == 1


async def test_the_platform_can_refuse_loopback(data_server: DataServer) -> None:
    data_server.put("/x.csv", Served(b"a,b\n1,2\n"))
    strict = guarded_client(EgressPolicy.from_rules(deny=["127.0.0.0/8"]), timeout_seconds=10)
    try:
        _refused(await _dataset(strict, f"{data_server.base_url}/x.csv"))
    finally:
        await strict.aclose()
    assert data_server.requests["/x.csv"] == 0


# ----- git: the same policy before ls-remote, and git pinned to the checked address ------


async def test_ls_remote_is_refused_before_git_runs(dns: StubDNS) -> None:
    for url in ("http://metadata.google.internal/r.git", "http://rebound.test/r.git",
                "ssh://git@169.254.169.254/r.git", "git://[fe80::1]/r.git"):  # fmt: skip
        observation = await resolve_git_ref(
            url=url, ref="main", credentials=None, timeout_seconds=5, resolver=dns
        )
        _refused(observation)


async def test_ls_remote_connects_to_the_checked_address(
    dns: StubDNS, git_server: GitServer, repo: Repo
) -> None:
    """git.test resolves only in the stub: git found the server because it was pinned."""
    observation = await resolve_git_ref(
        url=f"http://git.test:{git_server.port}/model.git", ref="main", credentials=None,
        timeout_seconds=20, resolver=dns,
    )  # fmt: skip
    assert observation.value == repo.head(), observation.error


# ----- nothing the server sends reaches status verbatim ----------------------------------


async def test_an_etag_is_hashed_not_echoed(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    served = Served(b"a,b\n1,2\n")
    data_server.put("/x.csv", served)
    observation = await _dataset(client, f"{data_server.base_url}/x.csv")
    assert observation.value == served.version
    assert served.etag.strip('"') not in (observation.value or "")


async def test_a_manifest_parse_error_and_its_paths_are_not_echoed(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    broken = f"files:\n  - path: a.csv\n  {SECRET_LINE}\n   bad: [\n".encode()
    data_server.put("/bad.yaml", Served(broken, content_type="application/yaml"))
    nameless = b"files:\n  - path: /etc/internal/secret-name.csv\n"
    data_server.put("/nohash.yaml", Served(nameless, content_type="application/yaml"))
    for path, secret in (("/bad.yaml", "hunter2"), ("/nohash.yaml", "secret-name")):
        check = HttpCheck(client=client, url=f"{data_server.base_url}{path}", credentials=None,
                          max_bytes=1 << 20, previous=None, now=NOW)  # fmt: skip
        observation = await resolve_manifest(check)
        assert observation.error is not None
        assert observation.error.reason is ErrorReason.INVALID_MANIFEST
        assert secret not in observation.error.message and "db_password" not in (
            observation.error.message
        )


@pytest.mark.parametrize(
    "stderr",
    [
        f"remote: {SECRET_LINE}\nfatal: unable to access 'http://x/': error: 500",
        f"fatal: repository 'http://x/{SECRET_LINE}' not found",
        f"remote: {SECRET_LINE}\nfatal: protocol error: bad line length",
    ],
)
def test_git_errors_are_told_in_the_operators_words(stderr: str) -> None:
    assert "hunter2" not in classify_failure(returncode=128, stderr=stderr).message


async def test_an_html_page_is_refused_without_quoting_its_type(
    client: httpx.AsyncClient, data_server: DataServer
) -> None:
    data_server.put("/login", Served(b"<html>x</html>", content_type=f"text/html; {SECRET_LINE}"))
    observation = await _dataset(client, f"{data_server.base_url}/login")
    assert observation.error is not None and observation.error.reason is ErrorReason.NOT_DATA
    assert "hunter2" not in observation.error.message


# ----- on the local cluster, as a tenant ------------------------------------------------


@pytest.mark.cluster
@pytest.mark.slow
def test_a_tenant_cannot_make_the_operator_fetch_instance_metadata(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    pvc, pipeline = example_documents(data_url=data_url, name="ssrf")
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    pipeline["spec"]["dataset"] |= {"uri": metadata, "version": None}
    pipeline["spec"]["dataset"].pop("version")
    assert ns.apply(pvc).returncode == 0
    done = tenant.apply(pipeline)
    assert done.returncode == 0, done.stderr

    def refused() -> dict[str, Any] | None:
        found = ns.pipeline("ssrf")
        return (
            found if condition(found, "SourcesReady") == ("False", "DestinationRefused") else None
        )

    found = wait_for("SourcesReady False/DestinationRefused", refused, timeout=60)
    row = found["status"]["sources"][0]
    assert "169.254.169.254" in row["error"] and row.get("resolved") is None
    assert ns.jobs("ssrf") == []
