"""Kueue fields as a tenant holding only ModelPipeline rights: they reach no further than
the platform allows. A queueName is a LocalQueue of the tenant's own namespace by
construction (namespaced, and read only there: tests/operator/test_kueue.py); a
WorkloadPriorityClass must be one the platform lists, which here is none."""

from __future__ import annotations

import pytest
from tests.e2e.harness import example_documents
from tests.security.conftest import Tenant

pytestmark = [pytest.mark.cluster]


def test_a_tenant_cannot_pick_a_kueue_priority_the_platform_did_not_allow(tenant: Tenant) -> None:
    _, pipeline = example_documents(data_url="http://127.0.0.1:9")
    training = pipeline["spec"]["training"]
    training.update(queueName="team", workloadPriorityClassName="system-critical")
    done = tenant.apply(pipeline)
    assert done.returncode != 0, "the tenant's WorkloadPriorityClass was admitted"
    assert "workloadPriorityClassName is not one the platform allows" in done.stderr
    del training["workloadPriorityClassName"]
    assert tenant.apply(pipeline).returncode == 0  # a queue of their own namespace is fine
