"""JSON Schema helpers: tidy generated schemas and derive DeepSeek's strict subset.

Strict mode (DeepSeek ``/beta``, ``"strict": true``) accepts only the keywords
``type, properties, required, additionalProperties, items, enum, anyOf,
description, $defs, $ref``; every property must be required and every object
closed with ``additionalProperties: false``. :func:`strict_schema` rewrites a
schema into that subset: optional properties become ``anyOf [T, null]``,
validation-only keywords (lengths, bounds, patterns, formats, defaults, titles)
are dropped (binding ones are restated in the description: arguments are still
validated against the full schema), ``const``/``oneOf`` become ``enum``/``anyOf``.
What cannot be said without changing the meaning (a free-form ``dict``, a
tuple) is a ``ValueError``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["allows_null", "drop_defaulted_nulls", "strict_schema", "strip_titles"]

_SCHEMA_VALUED = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")

# Dropped in strict mode but still binding: restated in the description instead.
_CONSTRAINTS = (
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)
_STRICT_KEEP = frozenset({"type", "enum", "$ref"})
_STRICT_LATER = frozenset({"description", "properties", "required", "additionalProperties"})
_STRICT_DROP = frozenset(
    {
        "title",
        "default",
        "examples",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "patternProperties",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "deprecated",
        "readOnly",
        "writeOnly",
        "discriminator",
        "contentEncoding",
        "contentMediaType",
        "$schema",
        "$id",
        "$comment",
    }
)


def strip_titles(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``schema`` without ``title`` keywords (noise for a model).

    Only the keyword is removed: a property that is *named* ``title`` stays.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _SCHEMA_VALUED and isinstance(value, Mapping):
            out[key] = strip_titles(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip_titles(v) if isinstance(v, Mapping) else v for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {
                k: strip_titles(v) if isinstance(v, Mapping) else v for k, v in value.items()
            }
        else:
            out[key] = copy.deepcopy(value)
    return out


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Rewrite an object schema into DeepSeek's strict-mode subset (see module doc).

    Raises:
        ValueError: the schema uses a construct strict mode cannot express.
    """
    if schema.get("type") != "object":
        raise ValueError("a tool's parameters must be a JSON Schema with type 'object'")
    return _strict(schema, schema, "$")


def allows_null(schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    """Whether ``null`` may satisfy ``schema`` (``$ref`` resolved against ``root``)."""
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        return target is None or allows_null(target, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return any(allows_null(s, root) for s in schema[key])
    if "allOf" in schema and not all(allows_null(s, root) for s in schema["allOf"]):
        return False
    if "enum" in schema:
        return None in schema["enum"]
    if "const" in schema:
        return schema["const"] is None
    kind = schema.get("type")
    if kind is None:
        return True
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def drop_defaulted_nulls(value: Any, schema: Mapping[str, Any]) -> Any:
    """Remove ``null`` values the schema does not allow from optional properties.

    A model following a strict spec sends ``null`` for an optional argument it
    does not want to set; dropping it lets the function's default apply.
    """
    return _drop_nulls(value, schema, schema)


def _drop_nulls(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        return value if target is None else _drop_nulls(value, target, root)
    branches = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if len(branches) == 1:
        return _drop_nulls(value, branches[0], root)
    if isinstance(value, dict) and "properties" in schema:
        props: Mapping[str, Any] = schema["properties"]
        required = set(schema.get("required", ()))
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = props.get(key)
            if sub is None:
                out[key] = item
            elif item is None and key not in required and not allows_null(sub, root):
                continue
            else:
                out[key] = _drop_nulls(item, sub, root)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_drop_nulls(item, schema["items"], root) for item in value]
    return value


def _strict(node: Mapping[str, Any], root: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    notes = [node["description"]] if "description" in node else []
    for key, value in node.items():
        if key in _STRICT_DROP or key in _STRICT_LATER:
            continue
        if key in _STRICT_KEEP:
            out[key] = copy.deepcopy(value)
        elif key == "const":
            out["enum"] = [value]
        elif key in ("anyOf", "oneOf"):
            out["anyOf"] = [_strict(s, root, f"{path}.{key}[{i}]") for i, s in enumerate(value)]
        elif key == "allOf" and len(value) == 1:
            inner = _strict(value[0], root, f"{path}.allOf[0]")
            notes.extend([inner.pop("description")] if "description" in inner else [])
            out.update(inner)
        elif key == "items" and isinstance(value, Mapping):
            out["items"] = _strict(value, root, f"{path}.items")
        elif key in ("$defs", "definitions"):
            out["$defs"] = {k: _strict(v, root, f"{path}.$defs.{k}") for k, v in value.items()}
        else:
            raise ValueError(f"strict mode cannot express {key!r} at {path}")
    constraints = [f"{k}: {json.dumps(node[k])}" for k in _CONSTRAINTS if k in node]
    if constraints:
        notes.append(f"({', '.join(constraints)})")
    if notes:
        out["description"] = " ".join(notes)
    if node.get("type") == "object" or "properties" in node:
        out.update(_strict_object(node, root, path))
    return out


def _strict_object(node: Mapping[str, Any], root: Mapping[str, Any], path: str) -> dict[str, Any]:
    props: Mapping[str, Any] = node.get("properties", {})
    extra = node.get("additionalProperties", False)
    if isinstance(extra, Mapping) or (not props and (extra is True or "patternProperties" in node)):
        raise ValueError(
            f"strict mode cannot express a free-form object (a dict) at {path}; "
            "use a model with named fields"
        )
    required = set(node.get("required", ()))
    properties: dict[str, Any] = {}
    for name, sub in props.items():
        converted = _strict(sub, root, f"{path}.{name}")
        if name not in required and not allows_null(converted, root):
            description = converted.pop("description", None)
            converted = {"anyOf": [converted, {"type": "null"}]}
            if description is not None:
                converted["description"] = description
        properties[name] = converted
    return {"properties": properties, "required": list(props), "additionalProperties": False}


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None
