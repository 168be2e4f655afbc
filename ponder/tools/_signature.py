"""Deriving a pydantic arguments model from a Python function's signature."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model
from pydantic.fields import FieldInfo

from ponder.tools._docstring import parse_docstring

__all__ = ["ArgumentsModel", "arguments_model", "is_async_callable"]


@dataclass(frozen=True)
class ArgumentsModel:
    """A function's arguments as a pydantic model, and how to call it with one."""

    model: type[BaseModel]
    description: str
    parameters: tuple[tuple[str, str, bool], ...]
    """``(field, parameter name, positional-only)`` in signature order."""

    def call(self, fn: Callable[..., Any], instance: BaseModel) -> Any:
        args = [getattr(instance, f) for f, _, positional in self.parameters if positional]
        kwargs = {p: getattr(instance, f) for f, p, positional in self.parameters if not positional}
        return fn(*args, **kwargs)


def arguments_model(fn: Callable[..., Any], *, name: str) -> ArgumentsModel:
    """Build the arguments model of ``fn`` from its signature, hints and docstring.

    Raises:
        TypeError: a class, ``*args``/``**kwargs``, a parameter without a type
            hint, an unbound method, or a type pydantic cannot describe.
    """
    if inspect.isclass(fn):
        raise TypeError(
            f"{fn.__name__} is a class; wrap a function, or use Tool.from_model(Model, fn)"
        )
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot read the signature of {fn!r}: {exc}") from None
    hints = _type_hints(fn)
    summary, arg_docs = parse_docstring(inspect.getdoc(fn))
    fields: dict[str, Any] = {}
    params: list[tuple[str, str, bool]] = []
    for index, param in enumerate(signature.parameters.values()):
        _check_parameter(fn, param, hints)
        field = f"p{index}"
        hint = hints[param.name]
        default = ... if param.default is inspect.Parameter.empty else param.default
        doc = arg_docs.get(param.name)
        if doc and not _has_description(hint):
            hint = Annotated[hint, Field(description=doc)]
        fields[field] = (hint, Field(default, alias=param.name))
        params.append((field, param.name, param.kind is inspect.Parameter.POSITIONAL_ONLY))
    try:
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        model.model_json_schema()
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise TypeError(f"cannot describe the parameters of {name!r} as JSON: {exc}") from None
    return ArgumentsModel(model=model, description=summary, parameters=tuple(params))


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` returns a coroutine (functions, partials, objects)."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - the class's, not fn itself
    return not inspect.isroutine(fn) and inspect.iscoroutinefunction(call)


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' resolved hints; the return hint is not needed, so not resolved."""
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    if not inspect.isroutine(target):
        target = type(target).__call__
    annotations = getattr(target, "__annotations__", None) or {}
    params = SimpleNamespace(
        __annotations__={k: v for k, v in annotations.items() if k != "return"}
    )
    globalns = getattr(inspect.unwrap(target), "__globals__", {})
    try:
        return typing.get_type_hints(params, globalns=globalns, include_extras=True)
    except (NameError, TypeError) as exc:
        raise TypeError(f"cannot resolve the type hints of {fn!r}: {exc}") from None


def _check_parameter(
    fn: Callable[..., Any], param: inspect.Parameter, hints: dict[str, Any]
) -> None:
    where = f"parameter {param.name!r} of {getattr(fn, '__qualname__', fn)!r}"
    if param.kind is inspect.Parameter.VAR_POSITIONAL:
        raise TypeError(f"{where}: *{param.name} is not supported; name each argument")
    if param.kind is inspect.Parameter.VAR_KEYWORD:
        raise TypeError(f"{where}: **{param.name} is not supported; name each argument")
    if param.name in ("self", "cls") and param.name not in hints:
        raise TypeError(f"{where}: looks like an unbound method; pass a bound method")
    if param.name not in hints:
        raise TypeError(f"{where} has no type hint; the model needs one to call the tool")


def _has_description(hint: Any) -> bool:
    if get_origin(hint) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in hint.__metadata__)
