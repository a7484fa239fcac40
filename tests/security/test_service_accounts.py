"""Issue 16: a pipeline author cannot run their own image as another ServiceAccount.

The attack: name a privileged ServiceAccount of the namespace (a CI robot's) in
``spec.training.serviceAccountName`` or ``spec.serving.template.serviceAccountName``
and choose the image (``spec.code.image``): the operator used to create the pods
as that account, so a tenant with no pod rights ran their code with its identity
(its image pull Secrets, any cloud identity bound to it, and its token wherever
the pod mounts one).

The model (docs/install.md, Threat model): a ServiceAccount is usable only when it
opts in (annotation ``modelpipe.io/pipelines`` listing the pipeline, or ``*``);
otherwise ``Ready=False ServiceAccountRefused``, one event, no Job or Deployment
write. Pods get a token only when an opted-in ServiceAccount is named.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents
from tests.operator.builders import meta, observe, spec, step
from tests.security.conftest import Tenant

from localkube.waiting import wait_for
from modelpipe.inputs import resolve
from modelpipe.manifests import training_job
from modelpipe.planning.accounts import PIPELINES_ANNOTATION, AccountUse, opted_in, refusal

TRAINING = "spec.training.serviceAccountName"
SERVING = "spec.serving.template.serviceAccountName"


@pytest.mark.parametrize(
    ("annotation", "allowed"),
    [
        (None, False),
        ("", False),
        ("iris", True),
        ("*", True),
        ("churn, iris", True),
        ("churn iris\n", True),
        ("churn", False),
        ("iris-evil", False),
        ("iri", False),
        ("iris*", False),
    ],
)
def test_a_service_account_lends_itself_to_the_pipelines_it_lists(
    annotation: str | None, allowed: bool
) -> None:
    annotations = {} if annotation is None else {PIPELINES_ANNOTATION: annotation}
    assert opted_in(annotations, pipeline="iris") is allowed
    use = AccountUse(TRAINING, "ci", annotations)
    assert (refusal((use,), pipeline="iris") is None) is allowed


def test_the_refusal_names_the_field_and_the_annotation_to_add() -> None:
    uses = (
        AccountUse(TRAINING, "trainer", {PIPELINES_ANNOTATION: "*"}),
        AccountUse(SERVING, "ci", {"secret-ish": "do-not-echo"}),
    )
    message = refusal(uses, pipeline="iris")
    assert message is not None
    assert f"ci ({SERVING})" in message and "trainer" not in message
    assert f"kubectl annotate serviceaccount ci {PIPELINES_ANNOTATION}=iris" in message
    assert "do-not-echo" not in message


def test_a_missing_service_account_is_not_refused_here() -> None:
    """Reported as not found by the training checks (and by the API server for serving)."""
    assert refusal((AccountUse(TRAINING, "gone", None),), pipeline="iris") is None
    assert refusal((), pipeline="iris") is None


def _pod(training: dict[str, Any]) -> dict[str, Any]:
    the_spec = spec(training=training)
    inputs = resolve(
        spec=the_spec, resolved=None, retrain_token=None, previous=None,
        now="2026-01-01T00:00:00Z",
    )  # fmt: skip
    pod: dict[str, Any] = training_job(
        meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None
    )["spec"]["template"]["spec"]
    return pod


def test_pods_get_a_token_only_with_a_named_service_account() -> None:
    """The trainer never calls the API; an opted-in account decides for itself."""
    plain = _pod({})
    assert plain["automountServiceAccountToken"] is False and "serviceAccountName" not in plain
    named = _pod({"serviceAccountName": "trainer"})
    assert named["serviceAccountName"] == "trainer"
    assert "automountServiceAccountToken" not in named


def test_a_refused_service_account_starts_no_job_and_touches_no_deployment() -> None:
    the_spec = spec(training={"serviceAccountName": "ci"})
    refused = replace(observe(the_spec), service_account_problem="ServiceAccount ci refused")
    planned = step(refused)
    kinds = {type(a).__name__ for a in planned.actions}
    assert not kinds & {"CreateJob", "CreateDeployment", "PatchDeployment", "CreateService"}
    ready = next(c for c in planned.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ServiceAccountRefused")
    assert [e.reason for e in planned.events] == ["ServiceAccountRefused"]
    assert step(observe(the_spec)).actions, "without the problem the Job is created"


# ----- on the local cluster, as a tenant with only ModelPipeline rights ------------------

# An image that would print the token of whatever account it runs as.
THIEF = {"image": "attacker.example/print-token:latest"}


def _accounts(ns: Namespace, **annotations: str) -> None:
    """A CI robot's ServiceAccount that may read Secrets: what the tenant is after."""
    documents: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "ci", "annotations": annotations}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "ci"},
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "ci"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ci"},
         "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": ns.name}]},
    ]  # fmt: skip
    done = ns.apply(*documents)
    assert done.returncode == 0, done.stderr


def _pipeline(ns: Namespace, tenant: Tenant, data_url: str, name: str) -> None:
    pvc, pipeline = example_documents(
        data_url=data_url, name=name, training={"serviceAccountName": "ci"}
    )
    pipeline["spec"]["code"] = {**pipeline["spec"]["code"], **THIEF}
    assert ns.apply(pvc).returncode == 0
    done = tenant.apply(pipeline)
    assert done.returncode == 0, done.stderr


@pytest.mark.cluster
@pytest.mark.slow
def test_a_tenant_cannot_run_their_image_as_another_service_account(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    _accounts(ns)
    assert not tenant.can_i("create", "pods") and not tenant.can_i("get", "secrets")
    _pipeline(ns, tenant, data_url, "thief")
    pipeline: dict[str, Any] = wait_for(
        "thief: Ready=False ServiceAccountRefused",
        lambda: (
            p
            if (p := ns.pipeline("thief"))
            and condition(p, "Ready") == ("False", "ServiceAccountRefused")
            else None
        ),
        timeout=60,
    )
    message = next(c["message"] for c in pipeline["status"]["conditions"] if c["type"] == "Ready")
    assert f"{PIPELINES_ANNOTATION}=thief" in message
    assert ns.jobs("thief") == []
    assert len(ns.events("ServiceAccountRefused")) == 1


@pytest.mark.cluster
@pytest.mark.slow
def test_an_opted_in_service_account_runs_the_pods_with_its_token(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str
) -> None:
    _accounts(ns, **{PIPELINES_ANNOTATION: "other, trusted"})
    _pipeline(ns, tenant, data_url, "trusted")
    (job,) = wait_for("trusted: its Job", lambda: ns.jobs("trusted"), timeout=60)
    pod = ns.get("job", job)["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["serviceAccountName"] == "ci"
    assert "automountServiceAccountToken" not in pod  # the account's own setting decides
