"""The strict-mode subset, null handling and title stripping in ponder.tools.schema."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from ponder.backends.types import ToolCall
from ponder.tools import Tool, ToolBox, strict_schema
from ponder.tools.schema import allows_null, drop_defaulted_nulls, strip_titles

_STRICT_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "anyOf",
    "description",
    "$defs",
    "$ref",
}


class Step(BaseModel):
    """One step of a derivation."""

    expression: str = Field(min_length=1, max_length=500, description="a sympy-free math text")
    justification: str | None = None
    rule: Literal["algebra", "calculus", "arithmetic"] = "algebra"


class Derivation(BaseModel):
    steps: list[Step] = Field(min_length=1, max_length=50)
    goal: Step
    tolerance: float = Field(default=1e-9, ge=0, le=1)
    variables: list[Annotated[str, Field(pattern=r"^[a-z]$")]] = Field(default_factory=list)


def _subschemas(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from _subschemas(sub)
            elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
                yield from _subschemas(value)
            elif key == "anyOf":
                for sub in value:
                    yield from _subschemas(sub)


def _assert_strict(schema: Mapping[str, Any]) -> None:
    for node in _subschemas(schema):
        assert set(node) <= _STRICT_KEYWORDS, set(node) - _STRICT_KEYWORDS
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert node["required"] == list(node["properties"])


def test_strict_subset_of_a_nested_model() -> None:
    def check(derivation: Derivation, verbose: bool = False) -> str:
        """Check a derivation."""
        return "ok"

    strict = Tool.from_function(check).spec(strict=True).parameters
    _assert_strict(strict)
    Draft202012Validator.check_schema(strict)
    step = strict["$defs"]["Step"]
    assert step["properties"]["expression"] == {
        "type": "string",
        "description": "a sympy-free math text (minLength: 1, maxLength: 500)",
    }
    assert step["properties"]["justification"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert step["properties"]["rule"] == {
        "anyOf": [
            {"enum": ["algebra", "calculus", "arithmetic"], "type": "string"},
            {"type": "null"},
        ]
    }
    derivation = strict["$defs"]["Derivation"]["properties"]
    assert derivation["steps"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Step"},
        "description": "(minItems: 1, maxItems: 50)",
    }
    assert derivation["tolerance"] == {
        "anyOf": [{"type": "number"}, {"type": "null"}],
        "description": "(minimum: 0, maximum: 1)",
    }
    assert derivation["variables"] == {
        "anyOf": [
            {"type": "array", "items": {"type": "string", "description": '(pattern: "^[a-z]$")'}},
            {"type": "null"},
        ]
    }
    assert strict["properties"]["verbose"] == {"anyOf": [{"type": "boolean"}, {"type": "null"}]}
    assert strict["required"] == ["derivation", "verbose"]


async def test_strict_style_nulls_mean_defaults() -> None:
    seen: list[Derivation] = []

    def check(derivation: Derivation, verbose: bool = False) -> str:
        """Check a derivation."""
        seen.append(derivation)
        return f"verbose={verbose}"

    t = Tool.from_function(check)
    arguments = {
        "derivation": {
            "steps": [{"expression": "x+x", "justification": None, "rule": None}],
            "goal": {"expression": "2*x", "justification": "collect", "rule": "algebra"},
            "tolerance": None,
            "variables": None,
        },
        "verbose": None,
    }
    Draft202012Validator(t.spec(strict=True).parameters).validate(arguments)
    result = await ToolBox([t]).run(ToolCall(id="1", name="check", arguments=json.dumps(arguments)))
    assert (result.ok, result.output) == (True, "verbose=False")
    assert seen[0].tolerance == 1e-9 and seen[0].variables == []
    assert seen[0].steps[0] == Step(expression="x+x")


def test_drop_defaulted_nulls_keeps_meaningful_nulls() -> None:
    schema = Tool.from_function(_nullable).parameters
    assert drop_defaulted_nulls({"a": None, "b": None, "c": None}, schema) == {"a": None, "b": None}
    assert drop_defaulted_nulls({"a": 1, "items": [{"x": None}]}, schema) == {"a": 1, "items": [{}]}
    assert drop_defaulted_nulls("not an object", schema) == "not an object"


class _Item(BaseModel):
    x: int = 0


def _nullable(
    a: int | None, b: int | None = 3, c: int = 4, items: list[_Item] | None = None
) -> None:
    """a and b accept null, c does not."""


def test_allows_null() -> None:
    root = {"$defs": {"N": {"type": "null"}, "S": {"type": "string"}}}
    assert allows_null({}, root)
    assert allows_null({"type": ["string", "null"]}, root)
    assert allows_null({"$ref": "#/$defs/N"}, root)
    assert not allows_null({"$ref": "#/$defs/S"}, root)
    assert allows_null({"anyOf": [{"$ref": "#/$defs/S"}, {"type": "null"}]}, root)
    assert not allows_null({"enum": ["a"]}, root)
    assert allows_null({"const": None}, root)
    assert not allows_null({"allOf": [{"type": "string"}]}, root)


def test_strict_rewrites_const_one_of_and_single_all_of() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"const": "circle", "title": "Kind"},
            "shape": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]},
            "wrapped": {"allOf": [{"type": "integer", "minimum": 0}], "description": "n"},
        },
        "required": ["kind", "shape", "wrapped"],
    }
    assert strict_schema(schema)["properties"] == {
        "kind": {"enum": ["circle"]},
        "shape": {
            "anyOf": [{"type": "integer"}, {"type": "string", "description": '(format: "uuid")'}]
        },
        "wrapped": {"type": "integer", "description": "n (minimum: 0)"},
    }


@pytest.mark.parametrize(
    ("prop", "message"),
    [
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "free-form object"),
        ({"type": "object", "additionalProperties": True}, "free-form object"),
        ({"type": "object", "patternProperties": {"^x": {"type": "string"}}}, "free-form"),
        ({"type": "array", "prefixItems": [{"type": "integer"}]}, "'prefixItems' at \\$.p"),
        ({"not": {"type": "string"}}, "'not' at \\$.p"),
    ],
)
def test_strict_refuses_what_it_cannot_express(prop: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        strict_schema({"type": "object", "properties": {"p": prop}})


def test_strict_needs_an_object_and_accepts_no_arguments() -> None:
    with pytest.raises(ValueError, match="type 'object'"):
        strict_schema({"type": "string"})
    assert strict_schema({"type": "object", "properties": {}}) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_dict_parameters_work_until_strict_is_asked_for() -> None:
    def tally(counts: dict[str, int]) -> int:
        """Sum counts."""
        return sum(counts.values())

    t = Tool.from_function(tally)
    assert t.spec().parameters["properties"]["counts"]["additionalProperties"] == {
        "type": "integer"
    }
    with pytest.raises(ValueError, match=r"free-form object \(a dict\) at \$.counts"):
        t.spec(strict=True)


def test_strip_titles_keeps_properties_named_title() -> None:
    schema = {
        "title": "Args",
        "type": "object",
        "properties": {"title": {"title": "Title", "type": "string"}},
        "$defs": {"A": {"title": "A", "anyOf": [{"title": "x", "type": "integer"}]}},
    }
    assert strip_titles(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string"}},
        "$defs": {"A": {"anyOf": [{"type": "integer"}]}},
    }
