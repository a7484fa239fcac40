"""docs/argocd/health.lua under lupa: the fast tier of the Argo CD health check.

The judge is Argo CD's own code (hack/argocd-health, run by test_argocd_harness.py,
slow). This file runs the same cases in a real Lua 5.1 (gopher-lua is 5.1) from lupa
without the libraries an argocd-cm override lacks (string, math, io, os, debug,
coroutine), so a broken script fails in ``make check`` already. It also checks that
docs/argocd's cases are exactly what plan() writes today (tests/packaging/argocd_cases.py)
and that every reason the operator can put on Ready is classified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest
import yaml
from tests.packaging import argocd_cases

from modelpipe.api.v1alpha1 import ModelPipeline, ModelPipelineStatus, Reason
from modelpipe.planning.sourcestatus import SourcesReadyReason

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "docs" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
VALID_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

# Every reason the operator can write, split by what Argo CD makes of Ready=False with it.
# A new reason fails test_every_reason_is_classified until it is sorted here and in the
# script's FAILURE_REASONS.
FAILURE_REASONS = {
    "InvalidSpec",
    "PVCNotFound",
    "QueueNotFound",
    "DeploymentNotFound",
    "DeploymentConflict",
    "ServiceAccountNotFound",
    "ServiceAccountRefused",
    "DeploymentUnavailable",
    "ProductionBelowThresholds",
    "ContainerNotFound",
    "CodeValidationFailed",
    "ValidationFailed",
    "TrainingFailed",
    "GateFailed",
    "RolloutFailed",
    "RolledBack",
    "AnalysisFailed",
    "CanaryAborted",
    "ShadowRejected",
    "PinnedVersionUnknown",
    "SourceFailed",
    # SourcesReady's reasons, should Ready ever carry them.
    "InvalidSchedule",
    "RefNotFound",
    "NotFound",
    "AuthenticationFailed",
    "CredentialsRefused",
    "DestinationRefused",
    "Unreachable",
    "Timeout",
    "ServerError",
    "RateLimited",
    "NotData",
    "TooLarge",
    "InvalidManifest",
    "InvalidSource",
}
IN_PROGRESS_REASONS = {
    "Serving",
    "Progressing",
    "Suspended",
    "NoModelYet",
    "Queued",
    "JobCreated",
    "AdoptedJob",  # event-only: a Job found unrecorded is followed as running
    "JobRunning",
    "JobSuperseded",
    "JobSucceeded",
    "Idle",
    "WaitingForInputs",
    "GatePassed",
    "NotEvaluated",
    "Promoted",
    "RollingOut",
    "Pinned",
    "Healthy",
    "ServingUpdated",
    "Baking",
    "AnalysisHeld",
    "AnalysisPassed",
    "CanaryStep",
    "ShadowRunning",
    # Event-only reasons of followed sources, and SourcesReady's own.
    "SourceChanged",
    "SourceRecovered",
    "Resolved",
    "Resolving",
    "NothingFollowed",
    # The Notified condition's own (spec.notify): a webhook never makes the app Degraded.
    "Delivered",
    "DeliveryFailed",
}
ALL_REASONS = {str(r) for r in Reason} | {str(r) for r in SourcesReadyReason}

# Argo CD opens base, table and package only; gopher-lua sets the string
# metatable in its string library, so string methods are gone as well.
_SANDBOX = """
debug.setmetatable("", nil)
for _, name in ipairs({"string", "math", "io", "os", "debug", "coroutine", "python"}) do
  _G[name] = nil
  package.loaded[name] = nil
end
"""


class _KubectlYamlLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: timestamps stay strings."""


_KubectlYamlLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_object(path: Path) -> dict[str, Any]:
    doc = yaml.load(path.read_text(), Loader=_KubectlYamlLoader)  # a SafeLoader
    assert isinstance(doc, dict), f"{path} is not a single Kubernetes object"
    return doc


def run_health(script: str, obj: dict[str, Any]) -> dict[str, str]:
    """Returns Argo CD's view of the script's answer: status and message."""
    runtime = lua51.LuaRuntime(
        unpack_returned_tuples=False, register_eval=False, register_builtins=False
    )
    runtime.execute(_SANDBOX)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script)
    assert lua51.lua_type(result) == "table", f"script returned {result!r}, not a table"
    status, message = result["status"], result["message"]
    if status not in VALID_STATUSES:
        return {"status": "Unknown", "message": f"invalid health status {status!r}"}
    return {"status": status, "message": message or ""}


def _cases() -> list[Any]:
    doc = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())
    return [pytest.param(t, id=t["inputPath"]) for t in doc["tests"]]


@pytest.mark.parametrize("case", _cases())
def test_health_matches_argocd_test_file(case: dict[str, Any]) -> None:
    """As hack/argocd-health judges it, in Argo CD's Go code."""
    got = run_health(SCRIPT, load_object(ARGOCD / case["inputPath"]))
    assert got == case["healthStatus"]


def test_testdata_is_what_plan_writes_today() -> None:
    """docs/argocd is generated; plan() changed if this fails."""
    on_disk = {p: p.read_text() for p in (ARGOCD / "testdata").glob("*.yaml")}
    on_disk[ARGOCD / "health_test.yaml"] = (ARGOCD / "health_test.yaml").read_text()
    generated = argocd_cases.render()
    stale = sorted(
        str(p.relative_to(ROOT))
        for p in generated.keys() | on_disk.keys()
        if generated.get(p) != on_disk.get(p)
    )
    assert not stale, (
        f"{stale} differ from what plan() writes now: run "
        "`uv run python -m tests.packaging.argocd_cases`, check that the health answers "
        "still hold (this file and hack/argocd-health), and commit docs/argocd"
    )


def test_every_testdata_file_is_a_case() -> None:
    listed = {c.values[0]["inputPath"] for c in _cases()}
    present = {f"testdata/{p.name}" for p in (ARGOCD / "testdata").glob("*.yaml")}
    assert listed == present


@pytest.mark.parametrize("case", _cases())
def test_testdata_are_valid_model_pipelines(case: dict[str, Any]) -> None:
    """Status always parses; the spec too, except where the case is about a spec that does not."""
    obj = load_object(ARGOCD / case["inputPath"])
    status = ModelPipelineStatus.model_validate(obj.get("status", {}))
    ready = next((c for c in status.conditions if c.type == "Ready"), None)
    if ready is not None and ready.reason == Reason.INVALID_SPEC:
        with pytest.raises(ValueError):
            ModelPipeline.model_validate(obj)
    else:
        ModelPipeline.model_validate(obj)


def test_every_reason_is_classified() -> None:
    assert not FAILURE_REASONS & IN_PROGRESS_REASONS
    assert ALL_REASONS <= FAILURE_REASONS | IN_PROGRESS_REASONS, (
        ALL_REASONS - FAILURE_REASONS - IN_PROGRESS_REASONS
    )
    table = re.search(r"local FAILURE_REASONS = \{(.*?)\n\}", SCRIPT, re.DOTALL)
    assert table and set(re.findall(r"^\s+(\w+) = true,", table.group(1), re.M)) == FAILURE_REASONS


def _obj(*conditions: Mapping[str, object]) -> dict[str, Any]:
    return {
        "metadata": {"generation": 2},
        "spec": {},
        "status": {"observedGeneration": 2, "conditions": list(conditions)},
    }


@pytest.mark.parametrize("reason", sorted(FAILURE_REASONS | IN_PROGRESS_REASONS))
def test_ready_false_is_degraded_exactly_for_failure_reasons(reason: str) -> None:
    ready = {"type": "Ready", "status": "False", "reason": reason, "message": "m"}
    expected = "Degraded" if reason in FAILURE_REASONS else "Progressing"
    assert run_health(SCRIPT, _obj(ready)) == {"status": expected, "message": "m"}


@pytest.mark.parametrize("condition_type", ["SourcesReady", "Training", "Evaluated", "Promoted"])
@pytest.mark.parametrize("reason", sorted(FAILURE_REASONS))
def test_only_ready_and_degraded_decide(condition_type: str, reason: str) -> None:
    """A failed candidate's Evaluated/Training/Promoted is history; Ready says what counts."""
    ready = {"type": "Ready", "status": "True", "reason": "Serving", "message": "serving"}
    other = {"type": condition_type, "status": "False", "reason": reason, "message": "m"}
    assert run_health(SCRIPT, _obj(other, ready))["status"] == "Healthy"


def test_degraded_wins_over_training_and_ready() -> None:
    degraded = {"type": "Degraded", "status": "True", "reason": "X", "message": "prod down"}
    training = {"type": "Training", "status": "True", "reason": "JobRunning", "message": "t"}
    ready = {"type": "Ready", "status": "False", "reason": "JobRunning", "message": "r"}
    got = run_health(SCRIPT, _obj(training, ready, degraded))
    assert got == {"status": "Degraded", "message": "prod down"}


def test_conditions_of_an_older_generation_are_ignored() -> None:
    old = {"observedGeneration": 1}
    degraded = {"type": "Degraded", "status": "True", "reason": "RolledBack", "message": "old"}
    ready = {"type": "Ready", "status": "True", "reason": "Serving", "message": "old"}
    got = run_health(SCRIPT, _obj({**degraded, **old}, {**ready, **old}))
    assert got == {"status": "Progressing", "message": "Waiting for the pipeline to become ready"}


def test_every_health_status_is_covered() -> None:
    covered = {c.values[0]["healthStatus"]["status"] for c in _cases()}
    assert covered == {"Healthy", "Progressing", "Degraded", "Suspended"}


@pytest.mark.parametrize(
    "obj",
    [
        {"metadata": {"name": "bare"}},
        {"metadata": {"name": "x", "generation": 1}, "status": {"observedGeneration": 1}},
        {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": []}},
        {
            "metadata": {"generation": 2},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready"}]},
        },
    ],
    ids=["no-status", "no-conditions", "empty-conditions", "condition-without-fields"],
)
def test_sparse_objects_never_break_the_script(obj: dict[str, Any]) -> None:
    assert run_health(SCRIPT, obj)["status"] == "Progressing"


def test_sandbox_really_hides_the_string_library() -> None:
    """Guards the guard: a script using string methods must fail here too."""
    with pytest.raises(lua51.LuaError):
        run_health('return {status = ("Healthy"):lower()}', {"metadata": {}})


def test_gitops_doc_embeds_the_same_script() -> None:
    doc = (ROOT / "docs" / "gitops.md").read_text()
    match = re.search(
        r"resource\.customizations\.health\.modelpipe\.io_ModelPipeline: \|\n(.*?)\n```",
        doc,
        re.DOTALL,
    )
    assert match, "docs/gitops.md lacks the argocd-cm health snippet"
    embedded = "\n".join(line.removeprefix("    ") for line in match.group(1).splitlines())
    assert embedded.strip() == SCRIPT.strip()


def test_gitops_doc_examples_are_valid() -> None:
    """The ModelPipeline in docs/gitops.md parses with the API model; the Applications are YAML."""
    doc = (ROOT / "docs" / "gitops.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL)
    objects = [yaml.safe_load(b) for b in blocks]
    kinds = [o.get("kind") for o in objects if isinstance(o, dict)]
    assert kinds.count("Application") == 2 and "ModelPipeline" in kinds
    (pipeline,) = [o for o in objects if isinstance(o, dict) and o.get("kind") == "ModelPipeline"]
    ModelPipeline.model_validate(pipeline)
