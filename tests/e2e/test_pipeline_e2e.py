"""The acceptance scenarios of issue 4, end to end: real apiserver, real trainer in real pods."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.e2e.harness import (
    Namespace,
    Operator,
    condition,
    example_documents,
    predict,
    promoted,
    runs,
    serving_version,
    settled,
)

from localkube.waiting import wait_for
from modelpipe.api.config import DEFAULT_TRAINER_IMAGE

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"


def test_train_gate_promote_retrain_and_reject(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    assert ns.apply(*example_documents(data_url=data_url)).returncode == 0
    first = promoted(ns)
    assert ns.jobs() == [f"iris-{first}"]
    assert condition(ns.pipeline(), "Ready") == ("True", "Serving")
    assert ns.events("JobCreated") and ns.events("Promoted")

    # Re-applying the same spec, or metadata only (Argo CD tracking), starts nothing.
    assert ns.apply(*example_documents(data_url=data_url)).returncode == 0
    ns.patch(
        "iris",
        {
            "metadata": {
                "annotations": {ARGO_TRACKING: "demo:modelpipe.io/ModelPipeline:x/iris"},
                "labels": {"team": "ml"},
            }
        },
    )
    operator.looked_again(ns)
    assert ns.jobs() == [f"iris-{first}"]
    kopf_status = ns.pipeline()["status"]["kopf"]
    assert "lastHandledDigest" in kopf_status and "lastHandledConfiguration" not in kopf_status
    assert not any(
        k.startswith("kopf.zalando.org") for k in ns.pipeline()["metadata"].get("annotations", {})
    )
    assert not ns.pipeline()["metadata"].get("finalizers")

    # A new dataset version: exactly one new Job, and the Deployment rolls to it.
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
    second = promoted(ns, besides=first)
    assert ns.jobs() == sorted([f"iris-{first}", f"iris-{second}"])
    deployment = ns.get("deployment", "iris")
    assert deployment is not None
    assert (
        deployment["spec"]["template"]["metadata"]["annotations"]["modelpipe.io/model-version"]
        == second
    )

    # Bad data, a failing gate and bad estimator params each leave v2 serving, and say why.
    for dataset, extra, verdict, reason in (
        ("bad", {}, "ValidationFailed", "ValidationFailed"),
        ("shuffled", {}, "GateFailed", "GateFailed"),
        (
            "v2",
            {
                "training": {
                    "estimator": {
                        "className": "sklearn.linear_model.LogisticRegression",
                        "params": {"max_iter": "many"},
                    }
                }
            },
            # Bad estimator params are the author's input error (issue 11.3), not a crash.
            "ValidationFailed",
            "ValidationFailed",
        ),
    ):
        ns.patch(
            "iris",
            {
                "spec": {
                    "dataset": {"uri": f"{data_url}/{dataset}.csv", "version": dataset},
                    **extra,
                }
            },
        )
        pipeline = settled(ns, verdict)
        assert serving_version(pipeline) == second
        # Ready says the current spec's inputs cannot reach production; v2 still serves.
        assert condition(pipeline, "Ready") == ("False", reason)
        assert ns.events(reason), f"no {reason} event"
        answer = predict(ns)
        assert answer is not None and answer["model_version"] == second
    last = runs(ns.pipeline())
    gate_failed = next(r for r in last if r["verdict"] == "GateFailed")
    assert (
        gate_failed["checks"][0]["metric"] == "accuracy"
        and gate_failed["checks"][0]["passed"] is False
    )
    validations = [r for r in last if r["verdict"] == "ValidationFailed"]
    assert any(
        r["failures"] and r["failures"][0].get("column") == "petal_length" for r in validations
    )
    assert any("invalid training configuration" in r["message"] for r in validations)

    # The same failed inputs are not retried; the retrain annotation starts one new attempt.
    jobs_before = ns.jobs()
    operator.looked_again(ns)
    assert ns.jobs() == jobs_before
    ns.retrain("1")
    wait_for("a retrain Job", lambda: len(ns.jobs()) == len(jobs_before) + 1, timeout=60)


def test_champion_gate_rejects_a_worse_candidate(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    champion = {"thresholds": [], "champion": {"metric": "accuracy", "minImprovement": 0}}
    ns.apply(*example_documents(data_url=data_url, evaluation=champion))
    first = promoted(ns)
    worse = {
        "estimator": {
            "className": "sklearn.dummy.DummyClassifier",
            "params": {"strategy": "uniform", "max_iter": None},
        }
    }
    ns.patch("iris", {"spec": {"training": worse}})
    pipeline = settled(ns, "GateFailed")
    check = pipeline["status"]["lastRun"]["checks"][0]
    assert check["gate"] == "champion" and not check["passed"]
    assert pipeline["status"]["lastRun"]["championMetrics"]["accuracy"] > check["value"]
    assert serving_version(pipeline) == first


def test_operator_killed_during_training_and_before_promotion(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    ns.apply(*example_documents(data_url=data_url))
    wait_for("the training Job", lambda: ns.jobs(), timeout=60)
    # kopf posts events from a queue after the Job is created: a kill in between loses the
    # event (the Job itself is adopted, not created again), and this test counts events.
    wait_for("its JobCreated event", lambda: ns.events("JobCreated"), timeout=30, every=0.2)
    operator.kill()
    time.sleep(2)
    operator.start()
    first = promoted(ns)
    assert ns.jobs() == [f"iris-{first}"]
    # Kill again the moment the next Job completes: between training and promotion.
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})

    def completed() -> bool:
        return any(
            c["type"] == "Complete" and c["status"] == "True"
            for j in ns.items("jobs", "modelpipe.io/pipeline=iris")
            if j["metadata"]["name"] != f"iris-{first}"
            for c in j.get("status", {}).get("conditions", [])
        )

    wait_for("the second Job to complete", completed, timeout=120, every=0.2)
    operator.kill()
    time.sleep(3)
    operator.start()
    second = promoted(ns, besides=first)
    assert len(ns.jobs()) == 2
    assert sum(second in m for m in ns.events("Promoted")) == 1
    assert sum("Created Job" in m for m in ns.events("JobCreated")) == 2


def test_failed_rollout_is_rolled_back(ns: Namespace, operator: Operator, data_url: str) -> None:
    """A user-owned Deployment whose pods never get Ready on the second model."""
    documents = example_documents(
        data_url=data_url, serving={"deploymentName": "web", "template": None}
    )
    del documents[1]["spec"]["serving"]["template"]
    ns.apply(documents[0], _web_deployment(broken_dataset="v2"))
    ns.apply(documents[1])
    first = promoted(ns, timeout=180, selector="app=web")
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
    pipeline = settled(ns, "RolledBack", timeout=180)
    # A candidate's failure: production still serves, so Ready=False, not Degraded.
    assert condition(pipeline, "Ready") == ("False", "RolledBack")
    assert condition(pipeline, "Degraded") == ("False", "Healthy")
    assert "retrying at" in pipeline["status"]["lastRun"]["message"]
    assert ns.events("RolloutFailed") and ns.events("RolledBack")
    wait_for(
        "the old model to answer again",
        lambda: (a := predict(ns, selector="app=web")) and a["model_version"] == first,
        timeout=90,
    )
    assert serving_version(ns.pipeline()) == first


def test_pinning_an_older_version_rolls_back_to_it(
    ns: Namespace, operator: Operator, data_url: str
) -> None:
    ns.apply(*example_documents(data_url=data_url))
    first = promoted(ns)
    ns.patch("iris", {"spec": {"dataset": {"uri": f"{data_url}/v2.csv", "version": "v2"}}})
    second = promoted(ns, besides=first)
    ns.patch("iris", {"spec": {"serving": {"pinnedVersion": first}}})
    assert promoted(ns, besides=second) == first
    pipeline = ns.pipeline()
    assert condition(pipeline, "Promoted") == ("False", "Pinned")
    assert pipeline["status"]["production"]["reason"].startswith("pinned")


def _web_deployment(*, broken_dataset: str) -> dict[str, Any]:
    """A Deployment the user owns; its pods refuse to get ready on the dataset-v2 model."""
    script = (
        'if [ -z "$MODEL_DIR" ]; then exec sleep 3600; fi; '
        f'if grep -q \'"{broken_dataset}"\' "$MODEL_DIR/lineage.json"; then exec sleep 3600; fi; '
        "exec modelpipe-trainer serve"
    )
    context = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        # Opted in: the operator serves into a user's Deployment only when it says so.
        "metadata": {"name": "web", "annotations": {"modelpipe.io/pipeline": "iris"}},
        "spec": {
            "replicas": 1,
            "progressDeadlineSeconds": 20,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "volumes": [
                        {"name": "artifacts", "persistentVolumeClaim": {"claimName": "iris-models"}}
                    ],
                    "containers": [
                        {
                            "name": "serve",
                            "image": DEFAULT_TRAINER_IMAGE,
                            "command": ["sh", "-c", script],
                            "env": [
                                {"name": "MODEL_NAME", "value": "iris"},
                                {"name": "PORT", "value": "8080"},
                                {"name": "HOME", "value": "/tmp"},
                                {
                                    "name": "POD_IP",
                                    "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                                },
                            ],
                            "readinessProbe": {
                                "httpGet": {"path": "/v2/health/ready", "port": 8080},
                                "periodSeconds": 2,
                            },
                            "volumeMounts": [
                                {"name": "artifacts", "mountPath": "/artifacts", "readOnly": True}
                            ],
                            "securityContext": context,
                        }
                    ],
                },
            },
        },
    }
