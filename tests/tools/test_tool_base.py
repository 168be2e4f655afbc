"""Tool definition: schemas from signatures, docstrings, models, the decorator."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from ponder.backends.types import ToolSpec
from ponder.tools import Tool, ToolArgumentError, as_tool, tool


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Span(TypedDict):
    start: int
    end: int


class Point(BaseModel):
    x: float
    y: float = 0.0


def solve_quadratic(a: float, b: float, c: float = 0.0) -> list[float]:
    """Solve a*x**2 + b*x + c = 0 over the reals.

    Returns the roots in ascending order.

    Args:
        a: coefficient of x**2, non-zero.
        b (float): coefficient of x; a long description
            that continues here.
        c: constant term.

    Returns:
        The real roots.
    """
    d = b * b - 4 * a * c
    if d < 0:
        return []
    r = d**0.5
    return sorted({(-b - r) / (2 * a), (-b + r) / (2 * a)})


def test_schema_from_signature_and_docstring() -> None:
    t = Tool.from_function(solve_quadratic)
    assert t.name == "solve_quadratic"
    assert t.description == "Solve a*x**2 + b*x + c = 0 over the reals."
    assert t.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "number", "description": "coefficient of x**2, non-zero."},
            "b": {
                "type": "number",
                "description": "coefficient of x; a long description that continues here.",
            },
            "c": {"type": "number", "description": "constant term.", "default": 0.0},
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    assert (t.timeout_s, t.max_output_chars) == (30.0, 20_000)


def test_rich_parameter_types() -> None:
    def f(
        color: Color,
        mode: Literal["fast", "exact"],
        span: Span,
        point: Point,
        tags: list[str],
        limit: int | None = None,
    ) -> None:
        """Exercise every kind of hint."""

    props = Tool.from_function(f).parameters["properties"]
    defs = Tool.from_function(f).parameters["$defs"]
    assert props["color"] == {"$ref": "#/$defs/Color"}
    assert defs["Color"]["enum"] == ["red", "blue"]
    assert props["mode"] == {"enum": ["fast", "exact"], "type": "string"}
    assert defs["Span"]["required"] == ["start", "end"]
    assert defs["Point"]["properties"]["y"] == {"type": "number", "default": 0.0}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert "title" not in str(Tool.from_function(f).parameters)


def test_annotated_field_description_wins_over_docstring() -> None:
    def f(q: Annotated[str, Field(description="from Field", min_length=1)], title: str) -> str:
        """Search.

        Args:
            q: from docstring.
            title: a property that is called title.
        """
        return q

    params = Tool.from_function(f).parameters
    assert params["properties"]["q"] == {
        "type": "string",
        "description": "from Field",
        "minLength": 1,
    }
    assert params["properties"]["title"]["description"] == "a property that is called title."


def test_awkward_parameter_names_are_kept() -> None:
    def f(schema: str, model_config: int, _hidden: bool = False) -> str:
        return f"{schema}{model_config}{_hidden}"

    assert list(Tool.from_function(f).parameters["properties"]) == [
        "schema",
        "model_config",
        "_hidden",
    ]


def test_decorator_bare_and_called() -> None:
    @tool
    def bare(x: int) -> int:
        return x

    @tool(name="renamed", description="custom", timeout_s=None, max_output_chars=500)
    async def called(x: int) -> int:
        return x

    assert isinstance(bare, Tool) and bare.name == "bare" and bare.description == ""
    assert (called.name, called.description, called.timeout_s, called.max_output_chars) == (
        "renamed",
        "custom",
        None,
        500,
    )


def test_spec_is_a_tool_spec() -> None:
    spec = Tool.from_function(solve_quadratic).spec()
    assert isinstance(spec, ToolSpec)
    assert (spec.name, spec.strict) == ("solve_quadratic", False)
    assert spec.parameters["required"] == ["a", "b"]
    assert Tool.from_function(solve_quadratic).spec(strict=True).strict is True


def _varargs(*xs: int) -> int:
    return sum(xs)


def _kwargs(**kw: int) -> int:
    return len(kw)


def _unhinted(x):  # type: ignore[no-untyped-def]
    return x


class _Unbound:
    def method(self, x: int) -> int:
        return x


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_varargs, r"\*xs is not supported"),
        (_kwargs, r"\*\*kw is not supported"),
        (_unhinted, "'x' .* has no type hint"),
        (_Unbound.method, "unbound method"),
        (Point, "is a class"),
        (lambda x: x, "pass name="),
    ],
)
def test_unsupported_signatures_raise_type_error(fn: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Tool.from_function(fn)


class _Opaque:
    pass


def _takes_callable(cb: Callable[[int], int]) -> None:
    pass


def _takes_opaque(obj: _Opaque) -> None:
    pass


@pytest.mark.parametrize("fn", [_takes_callable, _takes_opaque])
def test_unrepresentable_type_raises_type_error(fn: Callable[..., Any]) -> None:
    with pytest.raises(TypeError, match="cannot describe the parameters of"):
        Tool.from_function(fn)


async def test_bound_methods_partials_and_positional_only() -> None:
    class Calc:
        def __init__(self, base: int) -> None:
            self.base = base

        def add(self, x: int, /, y: int = 0) -> int:
            """Add to the base."""
            return self.base + x + y

    t = Tool.from_function(Calc(10).add)
    assert list(t.parameters["properties"]) == ["x", "y"]
    assert await t.invoke({"x": 1, "y": 2}) == "13"
    p = Tool.from_function(functools.partial(solve_quadratic, 1.0), name="monic")
    assert p.parameters["required"] == ["b"]
    assert await p.invoke({"b": 0.0, "c": -4.0}) == "[-2.0,2.0]"


def test_from_model() -> None:
    class Search(BaseModel):
        """Search the notes."""

        query: str = Field(description="words to look for")
        k: int = 5

    def search(args: Search) -> str:
        return args.query * args.k

    t = Tool.from_model(Search, search)
    assert (t.name, t.description) == ("search", "Search the notes.")
    assert t.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "words to look for"},
            "k": {"type": "integer", "default": 5},
        },
        "required": ["query"],
    }
    assert Tool.from_model(Search, lambda a: a.query).name == "search"
    with pytest.raises(TypeError, match="not a pydantic model"):
        Tool.from_model(dict, search)  # type: ignore[type-var, arg-type]


def test_invalid_definitions_raise_value_error() -> None:
    with pytest.raises(ValueError, match="must match"):
        Tool.from_function(solve_quadratic, name="has space")
    with pytest.raises(ValueError, match="timeout_s"):
        Tool.from_function(solve_quadratic, timeout_s=0)
    with pytest.raises(ValueError, match="max_output_chars"):
        Tool.from_function(solve_quadratic, max_output_chars=10)


def test_subclass_with_hand_written_schema() -> None:
    class Echo(Tool):
        async def invoke(self, arguments: dict[str, Any]) -> str:
            return str(arguments["text"])

    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    echo = Echo(name="echo", description="Echo.", parameters=schema)
    assert echo.spec().parameters == schema
    with pytest.raises(ValueError, match="type 'object'"):
        Echo(name="echo", parameters={"type": "string"})
    with pytest.raises(ValueError, match="invalid parameters schema"):
        Echo(name="echo", parameters={"type": "object", "properties": 3})


def test_as_tool() -> None:
    t = Tool.from_function(solve_quadratic)
    assert as_tool(t) is t
    assert as_tool(solve_quadratic).name == "solve_quadratic"
    with pytest.raises(TypeError, match="cannot make a tool from int"):
        as_tool(3)


def test_docstring_sections() -> None:
    def f(x: int, y: int) -> int:
        """Summary over
        two lines.

        Longer text that is not part of the summary.

        Arguments:
            x (int, optional): the x.
            y: the y,
                continued.

        Raises:
            ValueError: never; this is not an argument.
        """
        return x + y

    t = Tool.from_function(f)
    assert t.description == "Summary over two lines."
    props = t.parameters["properties"]
    assert props["x"]["description"] == "the x."
    assert props["y"]["description"] == "the y, continued."
    assert "ValueError" not in str(t.parameters)


async def test_async_callable_object_and_async_model_tool() -> None:
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        async def __call__(self, step: int = 1) -> int:
            self.n += step
            return self.n

    counter = Tool.from_function(Counter(), name="count")
    assert await counter.invoke({"step": 2}) == "2"

    class Query(BaseModel):
        text: str

    async def shout(q: Query) -> str:
        return q.text.upper()

    assert await Tool.from_model(Query, shout).invoke({"text": "hi"}) == "HI"


async def test_invoke_coerces_with_pydantic() -> None:
    def area(p: Point, scale: int = 1) -> float:
        """Area-ish."""
        assert isinstance(p, Point)
        return p.x * p.y * scale

    t = Tool.from_function(area)
    assert await t.invoke({"p": {"x": 2, "y": 3}}) == "6.0"
    with pytest.raises(ToolArgumentError, match="at p/x: Input should be a valid number"):
        await t.invoke({"p": {"x": "two"}})
