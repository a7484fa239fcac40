"""Fixtures for the security tests: a tenant who holds only ModelPipeline rights, and an operator.

Every attack in tests/security is made *as the tenant*: a ServiceAccount in the
test's namespace bound to a Role that grants the ModelPipeline verbs and nothing
else (issue 16: "a tenant with only ModelPipeline rights must gain nothing
through the operator"). The admin kubeconfig (``ns``) plants the victims
(Secrets, Deployments) and reads the results; the tenant writes the pipelines.

- ``tenant.kubectl(...)``: ``kubectl --as=system:serviceaccount:<ns>:tenant -n <ns> ...``
- ``tenant.apply(doc, ...)``: apply documents as the tenant (returns the CompletedProcess)
- ``tenant.can_i(verb, resource)``: ``kubectl auth can-i`` as the tenant
- ``tenant.api_client()``: a kubernetes ``ApiClient`` that impersonates the tenant
- ``tenant.token()``: a short-lived bearer token of the tenant (TokenRequest)
- ``operator``: ``modelpipe-operator run`` for the namespace (tests/e2e/fixtures.py)
- ``repo``, ``git_server``, ``data_server``: a repository, git and data servers on loopback
  (tests/sources)
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from tests.e2e.fixtures import crd, data_url, ns, operator, reachable
from tests.e2e.harness import Namespace
from tests.sources.conftest import clock, data_server, git_server, repo

from localkube.cluster import Cluster
from localkube.waiting import wait_for

__all__ = [
    "Tenant", "clock", "crd", "data_server", "data_url", "git_server", "ns", "operator",
    "reachable", "repo", "tenant",
]  # fmt: skip

TENANT = "tenant"

# What a namespace's pipeline author is given: the ModelPipeline verbs, and reading
# status. Nothing on Secrets, Jobs, Pods, Deployments or Services.
TENANT_RULES = [
    {
        "apiGroups": ["modelpipe.io"],
        "resources": ["modelpipelines"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": ["modelpipe.io"], "resources": ["modelpipelines/status"], "verbs": ["get"]},
]


@dataclass(frozen=True)
class Tenant:
    """A pipeline author of one namespace, as the API server sees them."""

    cluster: Cluster
    namespace: str
    name: str = TENANT

    @property
    def user(self) -> str:
        """The identity for ``kubectl --as`` (and the Impersonate-User header)."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(
            "--as", self.user, "--namespace", self.namespace, *args, input=input, check=check
        )

    def apply(self, *documents: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))

    def can_i(self, verb: str, resource: str) -> bool:
        done = self.kubectl("auth", "can-i", verb, resource)
        return done.stdout.strip() == "yes"

    def token(self, *, seconds: int = 600) -> str:
        done = self.cluster.kubectl(
            "create", "token", self.name, "-n", self.namespace, f"--duration={seconds}s"
        )
        return done.stdout.strip()

    def api_client(self) -> Any:
        """An ApiClient (kubernetes package) acting as the tenant; close it after use."""
        kubernetes = pytest.importorskip("kubernetes")
        client = kubernetes.config.new_client_from_config(config_file=str(self.cluster.kubeconfig))
        client.set_default_header("Impersonate-User", self.user)
        return client


@pytest.fixture
def tenant(cluster: Cluster, ns: Namespace) -> Tenant:
    """A ServiceAccount of the test namespace bound to a Role with only the ModelPipeline verbs."""
    who = Tenant(cluster, ns.name)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "modelpipeline-author"}, "rules": TENANT_RULES}  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "modelpipeline-author"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "modelpipeline-author",
        },
        "subjects": [{"kind": "ServiceAccount", "name": who.name, "namespace": ns.name}],
    }
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": who.name}}
    done = ns.apply(account, role, binding)
    assert done.returncode == 0, done.stderr
    # The premise of every test here: the tenant cannot read Secrets or touch workloads.
    # (The authorizer reads RBAC from a cache: the binding takes a moment to count.)
    wait_for("the tenant's Role to apply", lambda: who.can_i("create", "modelpipelines"),
             timeout=30, every=0.2)  # fmt: skip
    assert not who.can_i("get", "secrets")
    assert not who.can_i("create", "pods")
    return who
