"""The CRD in crds/ is generated from the pydantic models; these tests fail on drift."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
import yaml

from modelpipe.api import crdgen
from modelpipe.api.v1alpha1._base import MAX_SPEC_BYTES
from modelpipe.api.v1alpha1.dataset import MAX_ALLOWED_VALUES
from modelpipe.api.v1alpha1.params import MAX_PARAMS_BYTES


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(_walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_walk(value, f"{path}[{i}]"))
    return found


def test_crd_file_matches_models() -> None:
    assert crdgen.DEFAULT_OUTPUT.read_text() == crdgen.render(), (
        "crds/ drifted from operator/modelpipe/api; run: uv run python -m modelpipe.api.crdgen"
    )


def test_admission_policy_files_match_models() -> None:
    assert crdgen.POLICY_OUTPUT.read_text() == crdgen.render_policy(), "run: make crds"
    chart = crdgen.render_policy(name=crdgen.CHART_POLICY_NAME)
    assert crdgen.CHART_POLICY_OUTPUT.read_text() == chart, "run: make crds"


def test_check_flag_reports_drift(tmp_path: Any) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text("stale\n")
    fresh = tmp_path / "copy" / "crd.yaml"
    assert crdgen.main(["-o", str(fresh)]) == 0
    assert crdgen.main(["--check", "-o", str(fresh)]) == 0
    assert crdgen.main(["--check", "-o", str(fresh), "-o", str(stale)]) == 1
    assert stale.read_text() == "stale\n"


def test_schema_is_structural() -> None:
    schema = crdgen.version_schema()
    text = json.dumps(schema)
    assert "$ref" not in text and "anyOf" not in text and "allOf" not in text
    for path, node in _walk(schema):
        if "properties" in node or "items" in node:
            assert node.get("type") in {"object", "array"}, path
        if "properties" in node:
            assert "additionalProperties" not in node, path


def test_every_field_is_described() -> None:
    """`kubectl explain` has text for every field, spec and status, at every depth."""
    undescribed = [
        f"{path}.{name}"
        for path, node in _walk(crdgen.version_schema())
        for name, field in node.get("properties", {}).items()
        if not field.get("description") and f"{path}.{name}" != ".metadata"
    ]
    assert undescribed == [], undescribed


def test_serving_resources_are_described_as_the_serving_containers() -> None:
    spec = crdgen.version_schema()["properties"]["spec"]["properties"]
    serving = spec["serving"]["properties"]["template"]["properties"]["resources"]
    training = spec["training"]["properties"]["resources"]
    assert "SERVING container" in serving["description"]
    assert "training" in training["description"] and "SERVING" not in training["description"]


def _worst_case_bytes(node: dict[str, Any]) -> float:
    """The largest JSON a schema node admits (map keys counted at 253 characters)."""
    if node.get("enum"):
        return max(len(json.dumps(e)) for e in node["enum"])
    kind = node.get("type")
    if kind == "string" or node.get("x-kubernetes-int-or-string"):
        return float(node.get("maxLength", math.inf)) + 2
    if kind in ("integer", "number", "boolean"):
        return 24
    if kind == "array":
        return float(node.get("maxItems", math.inf)) * (_worst_case_bytes(node["items"]) + 1) + 2
    if "properties" in node:
        fields = node["properties"].items()
        return sum(len(k) + 3 + _worst_case_bytes(v) for k, v in fields) + 2
    if "additionalProperties" in node:
        value = _worst_case_bytes(node["additionalProperties"])
        return float(node.get("maxProperties", math.inf)) * (253 + 3 + value) + 2
    return math.inf


def test_every_spec_field_is_bounded_and_the_whole_spec_too() -> None:
    """Every string, list and map has a bound, so the spec has a worst-case size; two bounds
    are CEL sums the schema cannot show (params, checked by the admission policy, and the
    allowedValues of all features together), counted here at their limits."""
    spec = copy.deepcopy(crdgen.version_schema()["properties"]["spec"])
    params = spec["properties"]["training"]["properties"]["estimator"]["properties"]["params"]
    params.clear()
    params.update(type="string", maxLength=MAX_PARAMS_BYTES)
    features = spec["properties"]["dataset"]["properties"]["schema"]["properties"]["features"]
    values = features["items"]["properties"]["allowedValues"]
    every_value = MAX_ALLOWED_VALUES * (values["items"]["maxLength"] + 3)
    values.clear()
    values.update(type="string", maxLength=0)
    worst = _worst_case_bytes(spec) + every_value
    assert worst <= MAX_SPEC_BYTES, worst


def test_status_subresource_printer_columns_and_short_name() -> None:
    doc = yaml.safe_load(crdgen.render())
    version = doc["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert doc["spec"]["names"]["shortNames"] == ["mp"]
    names = [c["name"] for c in version["additionalPrinterColumns"]]
    assert names == [
        "Code",
        "Data",
        "Serving",
        "Verdict",
        "Queue",
        "Ready",
        "Reason",
        "Message",
        "Age",
    ]
    paths = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    # The resolved inputs and their own run's verdict, never the spec's possibly unset fields.
    assert paths["Code"] == ".status.inputs.codeRevision"
    assert paths["Data"] == ".status.inputs.datasetVersion"
    assert paths["Verdict"] == ".status.inputs.verdict"


def test_cel_rules_carry_messages() -> None:
    rules = [
        rule
        for _, node in _walk(crdgen.version_schema())
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert len(rules) >= 8
    assert all(r["message"] and r["rule"] for r in rules)


def test_chart_crd_template_matches_models() -> None:
    assert crdgen.CHART_CRD_OUTPUT.read_text() == crdgen.render_chart_crd(), "run: make crds"


def test_chart_template_refuses_what_helm_would_misread() -> None:
    """Text with '{{' would be read as a template; other metadata would be lost."""
    from modelpipe.api.chartcrds import chart_template

    def dump(document: dict[str, Any]) -> str:
        return yaml.safe_dump(document, sort_keys=False)

    plain = {"kind": "CustomResourceDefinition", "metadata": {"name": "a.b"}, "spec": {}}
    braces = {**plain, "spec": {"description": "{{ .Values }}"}}
    labelled = {**plain, "metadata": {"name": "a.b", "labels": {"x": "y"}}}
    assert "helm.sh/resource-policy: keep" in chart_template(
        [plain], condition="x", dump=dump, header=""
    )
    for bad in (braces, labelled):
        with pytest.raises(ValueError, match=r"a\.b"):
            chart_template([bad], condition="x", dump=dump, header="")
