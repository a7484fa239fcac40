"""Broken pipelines on the real apiserver: a refused Job create backs off, no write storm."""

from __future__ import annotations

import re
import time

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents

from localkube.waiting import wait_for

pytestmark = pytest.mark.cluster
PIPELINES = ("broken-a", "broken-b", "broken-c")


def deny_training_jobs(ns: Namespace) -> None:
    """A ValidatingAdmissionPolicy refusing the pipelines' Jobs: 422 Invalid, as a bad spec."""
    name = f"deny-jobs-{ns.name}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["batch"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["jobs"],
                    }
                ]
            },
            "validations": [
                {"expression": "false", "message": "spec.training: quantity -1 is invalid"}
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}}
            },
        },
    }
    assert ns.apply(policy, binding).returncode == 0


def writes(operator: Operator, namespace: str) -> dict[str, float]:
    found: dict[str, float] = {}
    pattern = rf'^modelpipe_api_writes_total\{{[^}}]*namespace="{namespace}"[^}}]*\}} (\S+)'
    for line in operator.metrics().splitlines():
        if re.match(pattern, line):
            kind = re.search(r'kind="([^"]+)"', line)
            assert kind is not None
            found[kind.group(1)] = float(line.rsplit(" ", 1)[1])
    return found


def test_broken_pipelines_back_off_and_write_little(ns: Namespace, operator: Operator) -> None:
    deny_training_jobs(ns)
    try:
        _back_off_and_write_little(ns, operator)
    finally:
        for kind in ("validatingadmissionpolicybinding", "validatingadmissionpolicy"):
            ns.kubectl("delete", kind, f"deny-jobs-{ns.name}", "--wait=false", check=False)


def _back_off_and_write_little(ns: Namespace, operator: Operator) -> None:
    pvc, _ = example_documents(data_url="http://127.0.0.1:9")
    assert ns.apply(pvc).returncode == 0

    def refused_by_policy() -> bool:
        probe = ns.kubectl(
            "create", "job", "probe", "--image=busybox", "--dry-run=server", check=False
        )
        return probe.returncode != 0 and "quantity -1" in probe.stderr

    wait_for("the admission policy to take effect", refused_by_policy, timeout=30)
    started = time.monotonic()
    for name in PIPELINES:
        assert (
            ns.apply(example_documents(data_url="http://127.0.0.1:9", name=name)[1]).returncode == 0
        )

    def all_refused() -> bool:
        return all(
            condition(ns.pipeline(name), "Ready") == ("False", "InvalidSpec") for name in PIPELINES
        )

    wait_for("every pipeline to say InvalidSpec", all_refused, timeout=30)
    message = next(
        c["message"]
        for c in ns.pipeline("broken-a")["status"]["conditions"]
        if c["type"] == "Ready"
    )
    assert "the API server refused to create Job broken-a-" in message and "quantity -1" in message
    time.sleep(max(0.0, 75 - (time.monotonic() - started)))  # two attempts each (0 and 30 s)
    counted = writes(operator, ns.name)
    # Attempts at 0, 30 and perhaps 90 s: at most 3 Job POSTs and 3 status writes each,
    # one event each; before, every pass (kopf retries, watch events) POSTed again.
    assert 2 * len(PIPELINES) <= counted.get("CreateJob", 0) <= 3 * len(PIPELINES)
    assert counted.get("status", 0) <= 3 * len(PIPELINES)
    assert counted.get("event", 0) == len(PIPELINES)
    assert not ns.jobs("broken-a")
