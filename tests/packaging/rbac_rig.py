"""The rig of test_rbac_minimality.py: one chart release, its operator pod and its Role.

Rig drives the release with kubectl (apply, poke, restart the operator pod), reads
the operator's logs since a mark, and edits the live Role: ``without`` removes one
verb for the length of a case, ``wait_denied`` finds the apiserver's denial.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localkube.cluster import Cluster
from localkube.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "iris" / "pipeline.yaml"
INSTANCE = "app.kubernetes.io/instance"


@dataclass
class Rig:
    """The installed chart, its operator pod and the namespace it watches."""

    cluster: Cluster
    namespace: str
    release: str
    data_url: str
    pokes: int = 0
    marks: dict[str, int] = field(default_factory=dict)
    before: str | None = None  # the serving version before a retrain

    @property
    def role(self) -> str:
        return f"{self.release}-modelpipe"

    @property
    def service_account(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.release}-modelpipe"

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.cluster.kubectl("--namespace", self.namespace, *args, input=input).stdout

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        done = self.cluster.kubectl(
            "--namespace", self.namespace, "get", kind, name, "-o", "json", check=False
        )
        return json.loads(done.stdout) if done.returncode == 0 else None

    def pipeline_doc(self, name: str, **spec: Any) -> dict[str, Any]:
        (_, pipeline) = yaml.safe_load_all(EXAMPLE.read_text())
        pipeline["metadata"] = {"name": name, "namespace": self.namespace}
        pipeline["spec"]["dataset"]["uri"] = f"{self.data_url}/v1.csv"
        pipeline["spec"].update(spec)
        assert isinstance(pipeline, dict)
        return pipeline

    def apply(self, *docs: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def status(self, name: str = "iris") -> dict[str, Any]:
        found = self.get("modelpipeline", name)
        assert found is not None, f"ModelPipeline {name} is gone"
        status = found.get("status") or {}
        assert isinstance(status, dict)
        return status

    def serving(self, name: str = "iris") -> str | None:
        ready = [c for c in self.status(name).get("conditions", []) if c["type"] == "Ready"]
        if ready and ready[0]["status"] == "True":
            return str((self.status(name).get("production") or {}).get("modelVersion"))
        return None

    # --- the operator pod -------------------------------------------------------------
    def operator_pods(self) -> list[dict[str, Any]]:
        found = self.kubectl("get", "pods", "-l", f"{INSTANCE}={self.release}", "-o", "json")
        return list(json.loads(found)["items"])

    def logs(self) -> dict[str, str]:
        out = {}
        for pod in self.operator_pods():
            name = pod["metadata"]["name"]
            done = self.cluster.kubectl(
                "--namespace", self.namespace, "logs", name, "--tail=-1", check=False
            )
            out[name] = done.stdout.replace("\\", "")  # JSON logs escape the quotes
        return out

    def mark(self) -> None:
        self.marks = {pod: len(text) for pod, text in self.logs().items()}

    def new_logs(self) -> str:
        return "\n".join(text[self.marks.get(pod, 0) :] for pod, text in self.logs().items())

    def restart_operator(self) -> None:
        old = {p["metadata"]["name"] for p in self.operator_pods()}
        self.kubectl("delete", "pods", "-l", f"{INSTANCE}={self.release}", "--wait=true")
        wait_for(
            "a new operator pod to be ready",
            lambda: [
                p for p in self.operator_pods() if p["metadata"]["name"] not in old and pod_ready(p)
            ],
            timeout=90,
        )

    def poke(self) -> None:
        """Touch the serving Deployment: its watch event makes the operator reconcile."""
        self.pokes += 1
        self.kubectl("annotate", "deployment", "iris", "--overwrite", f"test/poke={self.pokes}")

    def grant_namespace_listing(self) -> None:
        """Test-only: lets kopf list namespaces, so a restart need not wait out its fallback.

        The chart does not grant this. A namespaced kopf operator lists namespaces at
        start-up and, refused, retries for about 54 s before it falls back to the names
        it was given; only then does it start watching. The verbs under test are not
        affected: their denials come from the watches that follow.
        """
        name = f"{self.release}-test-namespace-listing"
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": name, "labels": {INSTANCE: self.release}},
                "rules": [{"apiGroups": [""], "resources": ["namespaces"],
                           "verbs": ["list", "watch"]}]}  # fmt: skip
        subject = {"kind": "ServiceAccount", "name": self.role, "namespace": self.namespace}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": name, "labels": {INSTANCE: self.release}},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": name},
                   "subjects": [subject]}  # fmt: skip
        self.apply(role, binding)

    # --- RBAC -------------------------------------------------------------------------
    def rules(self) -> list[dict[str, Any]]:
        rules = json.loads(self.kubectl("get", "role", self.role, "-o", "json"))["rules"]
        assert isinstance(rules, list)
        return rules

    def replace_rules(self, rules: list[dict[str, Any]]) -> None:
        role = json.loads(self.kubectl("get", "role", self.role, "-o", "json"))
        role["rules"] = rules
        self.kubectl("replace", "-f", "-", input=json.dumps(role))

    @contextmanager
    def without(self, group: str, resource: str, verb: str) -> Iterator[None]:
        original = self.rules()
        reduced, removed = [], False
        for rule in original:
            if group in rule["apiGroups"] and resource in rule["resources"]:
                assert verb in rule["verbs"], f"the chart does not grant {verb} {resource}"
                removed = True
                rule = {**rule, "verbs": [v for v in rule["verbs"] if v != verb]}
                if not rule["verbs"]:
                    continue
            reduced.append(rule)
        assert removed, f"the chart has no rule for {resource}.{group}"
        self.replace_rules(reduced)
        try:
            yield
        finally:
            self.replace_rules(original)

    def denial(self, verb: str, resource: str, group: str) -> str:
        who = f'User "{self.service_account}"'
        return f'{who} cannot {verb} resource "{resource}" in API group "{group}"'

    def wait_denied(self, verb: str, resource: str, group: str, *, timeout: float = 90) -> str:
        phrases = [self.denial(verb, resource, group)]
        if (verb, resource) == ("get", "secrets"):
            # The apiserver's own message never reaches status (issue 16: no remote response
            # bodies); the operator says it in its own words, with the status reason.
            phrases.append("cannot read Secret")
        phrase = phrases[0]

        def seen() -> str | None:
            statuses = self.kubectl("get", "modelpipelines", "-o", "json").replace("\\", "")
            for text in (self.new_logs(), statuses):
                for found in phrases:
                    if found in text and (found == phrase or "Forbidden" in text):
                        start = text.index(found)
                        return text[max(0, start - 200) : start + 200]
            return None

        return wait_for(f"the operator to be denied: {phrase}", seen, timeout=timeout)


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
