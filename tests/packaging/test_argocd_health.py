"""Runs docs/argocd/health.lua against health_test.yaml, the way Argo CD does.

Argo CD's own test (util/lua/lua_test.go, TestLuaHealthScript) loads each
``inputPath`` as an unstructured object, runs the script with it as the global
``obj`` and compares the returned ``{status, message}`` for equality. We do the
same with a real Lua 5.1 (gopher-lua is 5.1) from lupa, and we take away the
libraries that Argo CD does not open in production (string, math, io, os, debug,
coroutine), so a script that passes here cannot fail there for lack of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest
import yaml

from modelpipe.api.v1alpha1 import ModelPipeline, Reason
from modelpipe.sources import SourcesReadyReason

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "docs" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
VALID_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

# Every reason the operator can write, split by what Argo CD should make of a
# condition that is False with it. A new Reason fails this file until sorted.
FAILURE_REASONS = {
    Reason.INVALID_SPEC,
    Reason.PVC_NOT_FOUND,
    Reason.DEPLOYMENT_NOT_FOUND,
    Reason.DEPLOYMENT_CONFLICT,
    Reason.DEPLOYMENT_UNAVAILABLE,
    Reason.PRODUCTION_BELOW_THRESHOLDS,
    Reason.CONTAINER_NOT_FOUND,
    Reason.CODE_VALIDATION_FAILED,
    Reason.VALIDATION_FAILED,
    Reason.TRAINING_FAILED,
    Reason.GATE_FAILED,
    Reason.ROLLOUT_FAILED,
    Reason.ROLLED_BACK,
    Reason.PINNED_VERSION_UNKNOWN,
    SourcesReadyReason.INVALID_SCHEDULE,
    SourcesReadyReason.REF_NOT_FOUND,
    SourcesReadyReason.NOT_FOUND,
    SourcesReadyReason.AUTH_FAILED,
    SourcesReadyReason.CREDENTIALS_REFUSED,
    SourcesReadyReason.DESTINATION_REFUSED,
    SourcesReadyReason.UNREACHABLE,
    SourcesReadyReason.TIMEOUT,
    SourcesReadyReason.SERVER_ERROR,
    SourcesReadyReason.RATE_LIMITED,
    SourcesReadyReason.NOT_DATA,
    SourcesReadyReason.TOO_LARGE,
    SourcesReadyReason.INVALID_MANIFEST,
    SourcesReadyReason.INVALID_SOURCE,
}
IN_PROGRESS_REASONS = {
    Reason.SERVING,
    Reason.PROGRESSING,
    Reason.SUSPENDED,
    Reason.NO_MODEL_YET,
    Reason.JOB_CREATED,
    Reason.JOB_RUNNING,
    Reason.JOB_SUPERSEDED,
    Reason.JOB_SUCCEEDED,
    Reason.IDLE,
    Reason.WAITING_FOR_INPUTS,
    Reason.GATE_PASSED,
    Reason.NOT_EVALUATED,
    Reason.PROMOTED,
    Reason.ROLLING_OUT,
    Reason.PINNED,
    Reason.HEALTHY,
    Reason.SERVING_UPDATED,
    # Event-only reasons of followed sources: never on these conditions.
    Reason.SOURCE_CHANGED,
    Reason.SOURCE_FAILED,
    Reason.SOURCE_RECOVERED,
    SourcesReadyReason.RESOLVED,
    SourcesReadyReason.RESOLVING,
    SourcesReadyReason.NOTHING_FOLLOWED,
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
    tests = doc["tests"]
    return [pytest.param(t["inputPath"], t["healthStatus"], id=t["inputPath"]) for t in tests]


@pytest.mark.parametrize(("input_path", "expected"), _cases())
def test_health_matches_argocd_test_file(input_path: str, expected: dict[str, str]) -> None:
    obj = load_object(ARGOCD / input_path)
    want = {"status": expected["status"], "message": expected.get("message", "")}
    assert run_health(SCRIPT, obj) == want


def test_every_testdata_file_is_a_case() -> None:
    listed = {c.values[0] for c in _cases()}
    present = {f"testdata/{p.name}" for p in (ARGOCD / "testdata").glob("*.yaml")}
    assert listed == present


@pytest.mark.parametrize("input_path", [c.values[0] for c in _cases()])
def test_testdata_are_valid_model_pipelines(input_path: str) -> None:
    """The fixtures stay true to the API's source of truth (the CRD is generated from it)."""
    ModelPipeline.model_validate(load_object(ARGOCD / input_path))


def test_every_reason_is_classified() -> None:
    assert not FAILURE_REASONS & IN_PROGRESS_REASONS
    assert {str(r) for r in FAILURE_REASONS | IN_PROGRESS_REASONS} == ALL_REASONS


@pytest.mark.parametrize(
    "condition_type", ["Ready", "SourcesReady", "Training", "Evaluated", "Promoted"]
)
@pytest.mark.parametrize("reason", sorted(ALL_REASONS))
def test_false_condition_is_degraded_exactly_for_failure_reasons(
    condition_type: str, reason: str
) -> None:
    condition = {"type": condition_type, "status": "False", "reason": reason, "message": "m"}
    obj = {
        "metadata": {"generation": 2},
        "spec": {},
        "status": {"observedGeneration": 2, "conditions": [condition]},
    }
    expected = "Degraded" if reason in {str(r) for r in FAILURE_REASONS} else "Progressing"
    assert run_health(SCRIPT, obj)["status"] == expected


def test_every_health_status_is_covered() -> None:
    covered = {c.values[1]["status"] for c in _cases()}
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
