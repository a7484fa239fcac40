"""The CRD in crds/ is generated from the pydantic models; these tests fail on drift."""

from __future__ import annotations

import json
from typing import Any

import yaml

from modelpipe.api import crdgen


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


def test_every_spec_field_is_described() -> None:
    spec = crdgen.version_schema()["properties"]["spec"]
    undescribed = [
        f"{path}.{name}"
        for path, node in _walk(spec)
        for name, field in node.get("properties", {}).items()
        if "description" not in field and "properties" not in field
    ]
    assert undescribed == [], undescribed


def test_status_subresource_printer_columns_and_short_name() -> None:
    doc = yaml.safe_load(crdgen.render())
    version = doc["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert doc["spec"]["names"]["shortNames"] == ["mp"]
    names = [c["name"] for c in version["additionalPrinterColumns"]]
    assert names == ["Code", "Dataset", "Serving", "Verdict", "Ready", "Reason", "Age"]


def test_cel_rules_carry_messages() -> None:
    rules = [
        rule
        for _, node in _walk(crdgen.version_schema())
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert len(rules) >= 8
    assert all(r["message"] and r["rule"] for r in rules)
