"""The executor's run config on the real apiserver: ConfigMap, then Job, then the Job owns it.

No operator runs here: the test executes one CreateJob as the executor would, against
a real ModelPipeline (the owner) in a fresh namespace. The Jobs are created suspended,
so no trainer starts.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.harness import Namespace, example_documents

from modelpipe.api.v1alpha1 import Metadata, ModelPipelineSpec, ModelPipelineStatus
from modelpipe.inputs import resolve
from modelpipe.k8s.calls import KubeApi
from modelpipe.k8s.execute import WriteRefused, execute
from modelpipe.k8s.rest import Rest, connect
from modelpipe.manifests import training_run
from modelpipe.observed import Observed
from modelpipe.planning import CreateJob, Plan

pytestmark = pytest.mark.cluster


def run_once(ns: Namespace, *, before: dict[str, Any] | None = None) -> tuple[str, KubeApi]:
    """Execute the pipeline's CreateJob (after planting ``before``); the Job's name."""
    pvc, document = example_documents(data_url="http://127.0.0.1:9")
    assert ns.apply(pvc, document).returncode == 0
    stored = ns.pipeline()
    meta = Metadata.model_validate(stored["metadata"])
    spec = ModelPipelineSpec.model_validate(stored["spec"])
    inputs = resolve(spec=spec, resolved=None, retrain_token=None, previous=None, now="x")
    run = training_run(meta=meta, spec=spec, inputs=inputs, champion_dir=None)
    run.job["spec"]["suspend"] = True  # no pod, no trainer: only the objects matter here
    name = run.job["metadata"]["name"]
    if before is not None:
        before["metadata"]["name"] = name
        assert ns.apply(before).returncode == 0
    api = KubeApi(Rest(connect(ns.cluster.kubeconfig)))
    observed = Observed(metadata=meta, status=ModelPipelineStatus(), spec=spec)
    action = CreateJob(run.job, config_map=run.config_map)
    execute(api, observed, Plan(status=ModelPipelineStatus(), actions=(action,)), now="x")
    return name, api


def owners(obj: dict[str, Any] | None) -> list[tuple[str, str, bool]]:
    assert obj is not None
    refs = obj["metadata"].get("ownerReferences") or []
    return [(r["kind"], r["uid"], r.get("controller", False)) for r in refs]


def test_the_job_owns_its_run_config(ns: Namespace, crd: Any) -> None:
    name, _ = run_once(ns)
    job, config = ns.get("job", name), ns.get("configmap", name)
    assert job is not None and config is not None
    assert owners(config) == [("Job", job["metadata"]["uid"], True)]
    assert '"modelVersion"' in config["data"]["run-config.json"]
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "run-config", "configMap": {"name": name, "defaultMode": 0o440}} in volumes


def test_an_interrupted_pass_s_run_config_is_brought_up_to_date(ns: Namespace, crd: Any) -> None:
    """Killed after the ConfigMap and before the Job: the next pass refreshes it."""
    _, document = example_documents(data_url="http://127.0.0.1:9")
    assert ns.apply(document).returncode == 0
    pipeline = ns.pipeline()
    stale = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "ownerReferences": [
                {
                    "apiVersion": "modelpipe.io/v1alpha1",
                    "kind": "ModelPipeline",
                    "name": "iris",
                    "uid": pipeline["metadata"]["uid"],
                    "controller": True,
                }
            ]
        },
        "data": {"run-config.json": "{}"},
    }
    name, _ = run_once(ns, before=stale)
    job, config = ns.get("job", name), ns.get("configmap", name)
    assert job is not None and config is not None
    assert '"modelVersion"' in config["data"]["run-config.json"]
    assert owners(config) == [("Job", job["metadata"]["uid"], True)]


def test_a_foreign_config_map_of_that_name_is_left_alone(ns: Namespace, crd: Any) -> None:
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"labels": {"team": "shop"}},
        "data": {"settings": "keep me"},
    }
    with pytest.raises(WriteRefused) as refused:
        run_once(ns, before=foreign)
    # A refused write: Ready=False with these words, then backing off (planning.refusal).
    assert "ConfigMap iris-" in refused.value.message and "left alone" in refused.value.message
    (config,) = [c for c in ns.items("configmaps") if (c.get("data") or {}).get("settings")]
    assert config["data"] == {"settings": "keep me"} and not owners(config)
    assert ns.items("jobs") == []
