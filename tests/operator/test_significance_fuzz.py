"""Fuzzing ``evaluation.champion.significance`` without a cluster: whatever the operator's
model admits renders a run config the trainer accepts, and what it refuses says why.
(The apiserver's side, CEL included, is fuzzed in test_admission_fuzz_cluster.py.)"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from modelpipe_contract.runconfig import RunConfig
from pydantic import ValidationError
from tests.operator.builders import meta, spec_dict

from modelpipe.api.v1alpha1 import ModelPipelineSpec
from modelpipe.inputs import resolve
from modelpipe.manifests import training_run

significance = st.fixed_dictionaries(
    {},
    optional={
        "test": st.one_of(st.sampled_from(["pairedBootstrap", "mcNemar"]), st.text(max_size=8)),
        "alpha": st.one_of(st.floats(allow_nan=True), st.sampled_from([0.0, 0.05, 0.5, 0.5001])),
        "resamples": st.one_of(st.integers(-5, 20000), st.sampled_from([99, 100, 10000, 10001])),
    },
)
REGRESSION = {"task": "regression", "estimator": {"className": "sklearn.linear_model.Ridge"}}


@settings(max_examples=150, deadline=None)
@given(significance=significance, regression=st.booleans())
def test_admitted_significance_renders_a_run_config_the_trainer_accepts(
    significance: dict[str, Any], regression: bool
) -> None:
    champion = {"metric": "r2" if regression else "accuracy", "significance": significance}
    change: dict[str, Any] = {"evaluation": {"thresholds": [], "champion": champion}}
    if regression:
        change["training"] = REGRESSION
    try:
        parsed = ModelPipelineSpec.model_validate(spec_dict(**change))
    except ValidationError as refused:
        assert "significance" in str(refused), refused
        return
    inputs = resolve(spec=parsed, resolved=None, retrain_token=None, previous=None, now="now")
    run = training_run(meta=meta(), spec=parsed, inputs=inputs, champion_dir="/artifacts/iris/p")
    config = RunConfig.model_validate_json(run.config_map["data"]["run-config.json"])
    assert config.significance is not None
    assert config.significance.alpha == parsed.evaluation.champion.significance.alpha  # type: ignore[union-attr]
