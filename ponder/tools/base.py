"""The tool definition: a name, a description, a JSON Schema and an async call.

A :class:`Tool` is what the model sees (:meth:`Tool.spec`) and what runs
(:meth:`Tool.invoke`). Build one from a typed function with :func:`tool` /
:meth:`Tool.from_function`, from a pydantic model with :meth:`Tool.from_model`,
or subclass it and implement :meth:`Tool.invoke`. Validation, timeouts, output
caps and error reporting to the model are the :class:`~ponder.tools.ToolBox`'s job.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ValidationError

from ponder.backends.types import ToolSpec
from ponder.tools._docstring import parse_docstring
from ponder.tools._output import describe_validation_error, render_output
from ponder.tools._signature import arguments_model, is_async_callable
from ponder.tools.schema import strict_schema, strip_titles

__all__ = ["Tool", "ToolArgumentError", "as_tool", "tool"]

M = TypeVar("M", bound=BaseModel)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MIN_OUTPUT_CHARS = 100


class ToolArgumentError(ValueError):
    """The arguments are wrong in a way the model can fix; the message says how.

    Raised by :meth:`Tool.invoke` (also by hand-written tools); the
    :class:`~ponder.tools.ToolBox` reports it as ``invalid_arguments``.
    """


class Tool(ABC):
    """A function the model can call.

    Attributes:
        name: what the model calls it (``[A-Za-z0-9_-]{1,64}``).
        description: what it does, for the model.
        parameters: JSON Schema (type ``object``) of the arguments.
        timeout_s: wall-clock limit per call, or ``None`` for none. Async tools
            are cancelled; a sync tool's thread cannot be killed and is abandoned.
        max_output_chars: longer outputs are cut, keeping head and tail.
        approval: the default approval policy of this tool's calls: ``"never"``,
            ``"always"`` or a predicate on the validated arguments (an agent's
            ``approvals=`` overrides it).
    """

    approval: str | Callable[[dict[str, Any]], bool] = "never"

    def __init__(
        self,
        *,
        name: str,
        description: str = "",
        parameters: dict[str, Any] | None = None,
        timeout_s: float | None = 30.0,
        max_output_chars: int = 20_000,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"tool name {name!r} must match [A-Za-z0-9_-]{{1,64}}")
        parameters = {"type": "object", "properties": {}} if parameters is None else parameters
        if parameters.get("type") != "object":
            raise ValueError(f"tool {name!r}: parameters must be a JSON Schema of type 'object'")
        try:
            Draft202012Validator.check_schema(parameters)
        except SchemaError as exc:
            raise ValueError(f"tool {name!r}: invalid parameters schema: {exc.message}") from None
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"tool {name!r}: timeout_s must be positive or None")
        if max_output_chars < _MIN_OUTPUT_CHARS:
            raise ValueError(f"tool {name!r}: max_output_chars must be >= {_MIN_OUTPUT_CHARS}")
        self.name = name
        self.description = description
        self.parameters = parameters
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars

    def spec(self, *, strict: bool = False) -> ToolSpec:
        """The definition sent to the model; ``strict`` uses DeepSeek's strict subset."""
        parameters = strict_schema(self.parameters) if strict else self.parameters
        return ToolSpec(
            name=self.name, description=self.description, parameters=parameters, strict=strict
        )

    @abstractmethod
    async def invoke(self, arguments: dict[str, Any]) -> str:
        """Run with arguments already valid against :attr:`parameters`; return text.

        Raise :class:`ToolArgumentError` for arguments the schema could not
        rule out but the tool cannot use.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_s: float | None = 30.0,
        max_output_chars: int = 20_000,
    ) -> Tool:
        """A tool from a typed function (sync or async).

        The schema comes from the signature and type hints, the description
        from the docstring's first paragraph, per-argument descriptions from
        its ``Args:`` section or ``Annotated[..., Field(description=...)]``.
        Sync functions run in a worker thread; a timed-out thread cannot be
        killed and runs on in the background.

        Raises:
            TypeError: the signature cannot be turned into a schema.
        """
        tool_name = name or _callable_name(fn)
        args = arguments_model(fn, name=tool_name)
        return _FunctionTool(
            name=tool_name,
            description=args.description if description is None else description,
            model=args.model,
            call=lambda instance: args.call(fn, instance),
            is_async=is_async_callable(fn),
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )

    @classmethod
    def from_model(
        cls,
        model: type[M],
        fn: Callable[[M], Any | Awaitable[Any]],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_s: float | None = 30.0,
        max_output_chars: int = 20_000,
    ) -> Tool:
        """A tool whose arguments are ``model``'s fields; ``fn`` gets the instance.

        The description defaults to ``fn``'s docstring summary, then ``model``'s.
        """
        if not (inspect.isclass(model) and issubclass(model, BaseModel)):
            raise TypeError(f"{model!r} is not a pydantic model class")
        if name is None:
            fn_name = getattr(fn, "__name__", "")
            name = fn_name if _NAME.match(fn_name) else _snake_case(model.__name__)
        if description is None:
            description = parse_docstring(fn.__doc__)[0] or parse_docstring(model.__doc__)[0]
        return _FunctionTool(
            name=name,
            description=description,
            model=model,
            call=fn,  # type: ignore[arg-type]  # fn accepts exactly this model
            is_async=is_async_callable(fn),
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )


class _FunctionTool(Tool):
    """A tool backed by a Python callable and a pydantic arguments model."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        model: type[BaseModel],
        call: Callable[[BaseModel], Any],
        is_async: bool,
        timeout_s: float | None,
        max_output_chars: int,
    ) -> None:
        parameters = strip_titles(model.model_json_schema())
        parameters.pop("description", None)  # the model's docstring: it is the tool's
        super().__init__(
            name=name,
            description=description,
            parameters=parameters,
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )
        self._model = model
        self._call = call
        self._is_async = is_async

    async def invoke(self, arguments: dict[str, Any]) -> str:
        try:
            instance = self._model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentError(describe_validation_error(exc)) from None
        if self._is_async:
            result = self._call(instance)
        else:
            result = await asyncio.to_thread(self._call, instance)
        if inspect.isawaitable(result):
            result = await result
        return render_output(result)


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = 30.0,
    max_output_chars: int = 20_000,
    approval: str | Callable[[dict[str, Any]], bool] = "never",
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = 30.0,
    max_output_chars: int = 20_000,
    approval: str | Callable[[dict[str, Any]], bool] = "never",
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: turn a typed function into a :class:`Tool`, bare or with options."""

    def wrap(f: Callable[..., Any]) -> Tool:
        made = Tool.from_function(
            f,
            name=name,
            description=description,
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )
        made.approval = approval
        return made

    return wrap if fn is None else wrap(fn)


def as_tool(obj: Any) -> Tool:
    """A :class:`Tool` from a Tool, a typed function, or a LangChain ``BaseTool``."""
    if isinstance(obj, Tool):
        return obj
    lc_tools = sys.modules.get("langchain_core.tools")  # imported iff obj could be one
    if lc_tools is not None and isinstance(obj, lc_tools.BaseTool):
        from ponder.tools.langchain_adapter import LangChainTool

        return LangChainTool(obj)
    if callable(obj):
        return Tool.from_function(obj)
    raise TypeError(f"cannot make a tool from {type(obj).__name__}: pass a Tool or a function")


def _callable_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise TypeError(f"cannot name a tool after {fn!r}; pass name=")
    return name


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
