"""Issue 16 for s3:// datasets: ``dataset.credentialsSecret`` lends a tenant nothing.

The same attack as tests/security/test_credentials.py, through the object-storage
source (issue 10): a tenant names a Secret of the namespace that holds an admin's
S3 keys and points the dataset (or only its evaluation set) at a bucket or path
the keys were never meant for. The model is the same opt-in as for git: the
Secret lends its keys only with the label ``modelpipe.io/credentials: "true"`` and
only to the ``s3://bucket/prefix`` values its ``modelpipe.io/url-prefixes`` names,
for *every* s3:// URI of the dataset. Where the signed request goes is the Secret's
``AWS_ENDPOINT_URL`` (an admin's choice): nothing in the spec moves it. The keys are
mounted only into the ``fetch-data`` init container, which runs the operator's
image, never the author's.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from tests.e2e.harness import Namespace, Operator, condition, example_documents
from tests.objectstore.server import S3Server
from tests.operator.builders import meta, spec
from tests.security.conftest import Tenant

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
)

KEY = "victim-secret-access-key-0123456789"
REF = SecretRef("team", "s3-keys")
DATA = "s3://ml-data/iris/train.csv"
AUTHOR_IMAGE = "attacker.example/steal:latest"


def keys(*prefixes: str) -> SecretView:
    return SecretView(
        labels={CREDENTIALS_LABEL: "true"},
        annotations={URL_PREFIXES_ANNOTATION: " ".join(prefixes)},
        data={"AWS_ACCESS_KEY_ID": "victim", "AWS_SECRET_ACCESS_KEY": KEY},
    )


@pytest.mark.parametrize(
    ("url", "prefix", "covered"),
    [
        (DATA, "s3://ml-data", True),
        (DATA, "s3://ml-data/iris", True),
        (DATA, "s3://ml-data/iris/", True),
        ("s3://ml-data-private/x.csv", "s3://ml-data", False),  # another bucket, same stem
        ("s3://ml-data/iris-private/x.csv", "s3://ml-data/iris", False),
        ("s3://other/ml-data/iris/x.csv", "s3://ml-data", False),
        (DATA, "https://ml-data", False),  # another scheme is another origin
        (DATA, "ml-data/iris", False),
    ],
)
def test_an_s3_secret_lends_only_under_its_bucket_and_prefix(
    url: str, prefix: str, covered: bool
) -> None:
    lent = lend(REF, keys(prefix), url=url)
    if covered:
        assert isinstance(lent.credentials, Credentials) and lent.error is None
    else:
        assert lent.credentials is None and lent.error is not None
        assert lent.error.reason is ErrorReason.CREDENTIALS_REFUSED
        assert KEY not in lent.error.message


def test_a_secret_without_the_label_lends_no_s3_keys() -> None:
    unlabelled = replace(keys("s3://ml-data"), labels={})
    lent = lend(REF, unlabelled, url=DATA)
    assert lent.credentials is None and lent.error is not None
    assert "not opted in" in lent.error.message and KEY not in lent.error.message


def _s3_dataset(**extra: Any) -> dict[str, Any]:
    return {"uri": DATA, "version": "v1", "credentialsSecret": "s3-keys",
            "schema": {"target": "species", "features": [{"name": "sepal_length"}]},
            **extra}  # fmt: skip


def _pod(dataset: dict[str, Any], code: dict[str, Any] | None = None) -> dict[str, Any]:
    the_spec = spec(dataset=dataset, **({"code": code} if code else {}))
    inputs = resolve(
        spec=the_spec, resolved=Resolved(), retrain_token=None, previous=None,
        now="2026-01-01T00:00:00Z",
    )  # fmt: skip
    job = training_job(meta=meta(), spec=the_spec, inputs=inputs, champion_dir=None)
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def test_the_keys_are_mounted_only_into_the_operators_fetch_container() -> None:
    pod = _pod(_s3_dataset(), code={"revision": "2026.1", "image": AUTHOR_IMAGE})
    volumes = [v["name"] for v in pod["volumes"] if v.get("secret", {}).get("secretName")]
    assert len(volumes) == 1
    mounted = [
        c for c in pod.get("initContainers", []) + pod["containers"]
        if any(m["name"] in volumes for m in c.get("volumeMounts", []))
    ]  # fmt: skip
    assert [c["name"] for c in mounted] == ["fetch-data"]
    assert mounted[0]["image"] == DEFAULT_TRAINER_IMAGE != AUTHOR_IMAGE
    assert all(m.get("readOnly") for m in mounted[0]["volumeMounts"] if m["name"] in volumes)
    # No container gets a key through its environment either.
    for c in pod.get("initContainers", []) + pod["containers"]:
        assert not [e for e in c.get("env", []) if "valueFrom" in e], c["name"]
        assert "envFrom" not in c, c["name"]


# ----- on the local cluster, as a tenant, against a real S3 server -----------------------


def _secret(server: S3Server, **metadata: Any) -> dict[str, Any]:
    """The admin's S3 keys (real ones: they would work against the server)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "s3-keys", **metadata},
            "stringData": {"AWS_ACCESS_KEY_ID": server.access_key,
                           "AWS_SECRET_ACCESS_KEY": server.secret_key,
                           "AWS_ENDPOINT_URL": server.endpoint}}  # fmt: skip


def _credentials_refused(ns: Namespace, name: str) -> str | None:
    """The pipeline's status, once Ready is False with CredentialsRefused."""
    pipeline = ns.pipeline(name)
    if condition(pipeline, "Ready") != ("False", "CredentialsRefused"):
        return None
    return repr(pipeline["status"])


def _pipeline(name: str, data_url: str, dataset: dict[str, Any]) -> list[dict[str, Any]]:
    pvc, pipeline = example_documents(data_url=data_url, name=name)
    pipeline["spec"]["dataset"].update(dataset)
    pipeline["spec"]["dataset"].pop("manifestUri", None)
    return [pvc, pipeline]


def _refused(ns: Namespace, name: str) -> str:
    def check() -> str | None:
        pipeline = ns.pipeline(name)
        refused = ("False", "CredentialsRefused")
        if condition(pipeline, "SourcesReady") == refused == condition(pipeline, "Ready"):
            return repr(pipeline["status"])
        return None

    return wait_for(f"{name}: SourcesReady and Ready False/CredentialsRefused", check, timeout=90)


@pytest.mark.cluster
@pytest.mark.slow
def test_a_tenant_cannot_use_an_admins_s3_keys_beyond_what_they_opted_in_for(
    ns: Namespace,
    tenant: Tenant,
    operator: Operator,
    data_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key="private/salaries.csv", Body=b"a,b\n1,2\n")
    s3.put_object(Bucket=s3_bucket, Key="shared/train.csv", Body=b"a,b\n1,2\n")
    attacks: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {
        # The Secret holds working keys but never opted in.
        "unlabelled": ({}, {"uri": f"s3://{s3_bucket}/private/salaries.csv", "version": None,
                            "pollInterval": "1s"}),
        # Opted in for shared/ only: the pinned dataset reaches for private/.
        "outside": (None, {"uri": f"s3://{s3_bucket}/private/salaries.csv", "version": "v1"}),
        # The training set is covered; the evaluation set is not.
        "evaluation": (None, {"uri": f"s3://{s3_bucket}/shared/train.csv", "version": "v1",
                              "evaluation": {"uri": f"s3://{s3_bucket}/private/salaries.csv",
                                             "version": "v1"}}),
    }  # fmt: skip
    opted: dict[str, Any] = {"labels": {CREDENTIALS_LABEL: "true"},
             "annotations": {URL_PREFIXES_ANNOTATION: f"s3://{s3_bucket}/shared"}}  # fmt: skip
    for name, (metadata, dataset) in attacks.items():
        secret = _secret(s3_server, **(opted if metadata is None else metadata))
        secret["metadata"]["name"] = f"s3-keys-{name}"
        assert ns.apply(secret).returncode == 0
        pvc, pipeline = _pipeline(
            name, data_url, {**dataset, "credentialsSecret": f"s3-keys-{name}"}
        )
        assert ns.apply(pvc).returncode == 0
        done = tenant.apply(pipeline)
        assert done.returncode == 0, done.stderr
    for name in attacks:
        status = _refused(ns, name)
        assert "modelpipe.io/" in status  # the refusal says which opt-in is missing
        assert ns.jobs(name) == [], f"{name}: a Job would mount the keys"
    shown = ns.kubectl("get", "events", "-o", "yaml").stdout + operator.logs()
    shown += "".join(repr(ns.pipeline(n).get("status")) for n in attacks)
    assert s3_server.secret_key not in shown


@pytest.mark.cluster
def test_a_secret_on_a_dataset_without_any_s3_uri_is_refused_at_admission(
    ns: Namespace, tenant: Tenant, data_url: str
) -> None:
    """Before, the operator ignored it; a user would believe their keys were used."""
    _, pipeline = _pipeline("http", data_url, {"credentialsSecret": "s3-keys"})
    done = tenant.apply(pipeline)
    assert done.returncode != 0
    assert "dataset.credentialsSecret is for s3:// URIs only" in done.stderr
    assert ns.get("modelpipeline", "http") is None


@pytest.mark.cluster
@pytest.mark.slow
def test_a_tenant_cannot_store_models_with_keys_that_did_not_opt_in_for_the_bucket(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str, s3_server: S3Server,
    s3_bucket: str,
) -> None:  # fmt: skip
    """spec.artifacts.s3 (issue 10.4): the upload and download containers would get the keys."""
    opted: dict[str, Any] = {"labels": {CREDENTIALS_LABEL: "true"},
             "annotations": {URL_PREFIXES_ANNOTATION: f"s3://{s3_bucket}/team-a"}}  # fmt: skip
    for name, metadata, prefix in [("unlabelled", {}, "models"), ("other", opted, "team-b")]:
        secret = _secret(s3_server, **metadata)
        secret["metadata"]["name"] = f"model-keys-{name}"
        assert ns.apply(secret).returncode == 0
        _, pipeline = _pipeline(name, data_url, {})
        store = {"bucket": s3_bucket, "prefix": prefix, "credentialsSecret": f"model-keys-{name}"}
        pipeline["spec"]["artifacts"] = {"s3": store}
        done = tenant.apply(pipeline)
        assert done.returncode == 0, done.stderr
    for name in ("unlabelled", "other"):
        _models_refused(ns, name, s3_server)
    assert s3_server.secret_key not in operator.logs()


def _models_refused(ns: Namespace, name: str, s3_server: S3Server) -> str:
    """Not a source: SourcesReady does not apply, Ready says why nothing runs; the status."""
    status = wait_for(
        f"{name}: Ready False/CredentialsRefused",
        partial(_credentials_refused, ns, name),
        timeout=90,
    )
    assert status is not None and s3_server.secret_key not in status
    assert ns.jobs(name) == [] and ns.get("deployment", name) is None
    return status


@pytest.mark.cluster
@pytest.mark.slow
def test_a_tenant_cannot_aim_the_model_keys_at_another_namespace_s_models(
    ns: Namespace, tenant: Tenant, operator: Operator, data_url: str, s3_server: S3Server,
    s3_bucket: str,
) -> None:  # fmt: skip
    """A bucket shared by namespaces: the admin holds this namespace's Secret to its own
    part, s3://<bucket>/shared/<namespace>. Models go under <prefix>/<namespace>/<pipeline>,
    so no spec.artifacts.s3.prefix reaches another namespace's models with these keys."""
    own = f"s3://{s3_bucket}/shared/{ns.name}"
    secret = _secret(s3_server, labels={CREDENTIALS_LABEL: "true"},
                     annotations={URL_PREFIXES_ANNOTATION: own})  # fmt: skip
    secret["metadata"]["name"] = "model-keys"
    assert ns.apply(secret).returncode == 0
    # "victim"'s iris would be under shared/victim/iris/: with the namespace in the path,
    # these prefixes give shared/victim/<ns>/iris/... and shared/victim/iris/<ns>/theirs/...
    for name, prefix in [("iris", "shared/victim"), ("theirs", "shared/victim/iris"),
                         ("mine", "shared")]:  # fmt: skip
        _, pipeline = _pipeline(name, data_url, {})
        store = {"bucket": s3_bucket, "prefix": prefix, "credentialsSecret": "model-keys"}
        pipeline["spec"]["artifacts"] = {"s3": store}
        done = tenant.apply(pipeline)
        assert done.returncode == 0, done.stderr
    for name in ("iris", "theirs"):
        status = _models_refused(ns, name, s3_server)
        assert f"covers s3://{s3_bucket}/shared/victim/" in status
    # Its own part of the bucket: the run uploads below shared/<namespace>/mine/.
    (job,) = wait_for("mine: a training Job", lambda: ns.jobs("mine") or None, timeout=90)
    manifest = ns.get("job", job)
    assert manifest is not None
    base = manifest["metadata"]["annotations"]["modelpipe.io/model-uri"]
    assert base.startswith(f"{own}/mine/"), base
    assert s3_server.secret_key not in operator.logs()


@pytest.mark.cluster
def test_artifacts_take_one_store_at_admission(
    ns: Namespace, tenant: Tenant, data_url: str
) -> None:
    _, pipeline = _pipeline("both", data_url, {})
    pipeline["spec"]["artifacts"] = {"pvc": "iris-models", "s3": {"bucket": "models"}}
    done = tenant.apply(pipeline)
    assert done.returncode != 0 and "set exactly one of artifacts.pvc" in done.stderr
    pipeline["spec"]["artifacts"] = {"s3": {"bucket": "models"}}
    pipeline["spec"]["serving"] = {"deploymentName": "someone-elses"}
    done = tenant.apply(pipeline)
    assert done.returncode != 0 and "artifacts.s3 needs serving.template" in done.stderr
    assert ns.get("modelpipeline", "both") is None
