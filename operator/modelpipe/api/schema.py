"""Turn pydantic's JSON Schema into a Kubernetes structural schema.

Kubernetes accepts a restricted OpenAPI v3 dialect: no ``$ref``, no ``anyOf`` for
optional fields, no ``additionalProperties: false`` next to ``properties``, a boolean
``exclusiveMinimum``. Defaults stay out of the CRD (the operator applies them, so a
changed default never rewrites stored objects) and are named in the description instead.
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

_KEPT = (
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "nullable",
)
_KEY_ORDER = ("description", "type")


class SchemaError(ValueError):
    """The model uses a construct that has no structural-schema equivalent."""


def structural(schema: Schema) -> Schema:
    """Inline every ``$ref`` of a pydantic model schema and translate it node by node."""
    defs: dict[str, Schema] = schema.get("$defs", {})
    return _node(schema, defs=defs)


def _node(node: Schema, *, defs: dict[str, Schema]) -> Schema:
    node = _resolve(node, defs=defs)
    out: Schema = {k: node[k] for k in _KEPT if k in node}
    if "description" in node:
        out["description"] = node["description"]
    if "default" in node and node["default"] not in (None, [], {}):
        default = json.dumps(node["default"])
        out["description"] = (
            f"{out.get('description', '').rstrip('.')}. Defaults to {default}.".lstrip(". ")
        )
    if "const" in node:
        out["enum"] = [node["const"]]
    if "exclusiveMinimum" in node:
        out["minimum"], out["exclusiveMinimum"] = node["exclusiveMinimum"], True
    if "exclusiveMaximum" in node:
        out["maximum"], out["exclusiveMaximum"] = node["exclusiveMaximum"], True
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    out.update({k: v for k, v in node.items() if k.startswith("x-kubernetes-")})
    if "properties" in node:
        out["properties"] = {k: _node(v, defs=defs) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = _node(node["items"], defs=defs)
    _translate_additional(node, out, defs=defs)
    if not out.get("type") and not _untyped_ok(out):
        raise SchemaError(f"no structural type for schema node {node!r}")
    return _ordered(out)


def _resolve(node: Schema, *, defs: dict[str, Schema]) -> Schema:
    """Merge a ``$ref``/``allOf``/optional ``anyOf`` target into the referring node."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**_resolve(target, defs=defs), **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    if "allOf" in node and len(node["allOf"]) == 1:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {**_resolve(node["allOf"][0], defs=defs), **rest}
    if "anyOf" in node:
        return _resolve_any_of(node, defs=defs)
    return node


def _resolve_any_of(node: Schema, *, defs: dict[str, Schema]) -> Schema:
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    options = [o for o in node["anyOf"] if o.get("type") != "null"]
    if len(options) == 1:
        return {**_resolve(options[0], defs=defs), **rest}
    if sorted(o.get("type", "") for o in options) == ["integer", "string"]:
        text = next(o for o in options if o.get("type") == "string")
        bounds = {k: text[k] for k in ("maxLength", "pattern") if k in text}
        return {**rest, **bounds, "x-kubernetes-int-or-string": True}
    raise SchemaError(f"unions other than Optional[X] or int|str are not structural: {node!r}")


def _translate_additional(node: Schema, out: Schema, *, defs: dict[str, Schema]) -> None:
    extra = node.get("additionalProperties")
    if extra is None or extra is False:
        return
    if extra is True or extra == {}:
        out["x-kubernetes-preserve-unknown-fields"] = True
        return
    out["additionalProperties"] = _node(extra, defs=defs)


def _untyped_ok(out: Schema) -> bool:
    return bool(
        out.get("x-kubernetes-int-or-string") or out.get("x-kubernetes-preserve-unknown-fields")
    )


def _ordered(out: Schema) -> Schema:
    """A stable, readable key order: description and type first."""
    head = {k: out[k] for k in _KEY_ORDER if k in out}
    return {**head, **{k: v for k, v in out.items() if k not in head}}
