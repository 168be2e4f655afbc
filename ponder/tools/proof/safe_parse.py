"""A whitelist parser for model-written math: Python's ``ast`` in, sympy or z3 out.

Model text never reaches ``eval``, ``exec`` or sympy's string parser. The text is
normalised (``^`` → ``**``, a lone ``=`` → ``==``), size-checked, parsed with
:func:`ast.parse` and walked against a whitelist of node types; sympy or z3
objects are then built node by node. Literal sizes, exponents, factorial
arguments and the size of every exact intermediate number are bounded so that
no input can make the builder itself run for long or eat memory.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy
import z3

from ._errors import ParseError

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "ParseError",
    "SymbolTable",
    "Z3Vars",
    "parse_sympy",
    "parse_z3",
]

MAX_CHARS = 2_000
MAX_DEPTH = 40
MAX_NODES = 600
MAX_INT_DIGITS = 40
MAX_EXPONENT = 1_000
MAX_BITS = 100_000
MAX_FACTORIAL = 1_000

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_LONE_EQUALS = re.compile(r"(?<![<>=!])=(?!=)")


# ---------------------------------------------------------------------------
# text → validated ast


def _tree(text: str) -> ast.expr:
    if not isinstance(text, str):
        raise ParseError(f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ParseError(f"input is {len(text)} characters long; the limit is {MAX_CHARS}")
    if not text.strip():
        raise ParseError("empty expression")
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise ParseError(f"brackets nest {deepest} deep; the limit is {MAX_DEPTH}")
    source = _LONE_EQUALS.sub("==", text.replace("^", "**")).strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        implicit = re.search(r"\d[A-Za-z(]|\)\s*[A-Za-z(]", text)
        hint = " (write products explicitly, e.g. 2*x, not 2x)" if implicit else ""
        raise ParseError(f"invalid syntax at column {exc.offset}: {exc.msg}{hint}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ParseError(f"cannot parse: {type(exc).__name__}") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ParseError(f"expression has {nodes} syntax nodes; the limit is {MAX_NODES}")
    return tree.body


def _check_name(name: str) -> str:
    if "__" in name or not _NAME.fullmatch(name):
        raise ParseError(
            f"name {name!r} is not allowed (letters, digits and single underscores, "
            "starting with a letter, at most 32 characters)"
        )
    return name


def _reject(node: ast.AST) -> ParseError:
    what = {
        ast.Attribute: "attribute access (a.b)",
        ast.Subscript: "subscripts (a[b])",
        ast.Lambda: "lambda",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.JoinedStr: "strings",
        ast.NamedExpr: "assignment expressions",
        ast.Starred: "starred arguments",
        ast.IfExp: "conditional expressions",
    }.get(type(node), type(node).__name__)
    if isinstance(node, ast.Constant):
        what = f"{type(node.value).__name__} literals"
    return ParseError(f"{what} not allowed here")


def _int_literal(value: int) -> int:
    if len(str(abs(value))) > MAX_INT_DIGITS:
        raise ParseError(f"integer literal longer than {MAX_INT_DIGITS} digits")
    return value


def _call_parts(node: ast.Call) -> tuple[str, list[ast.expr]]:
    if node.keywords:
        raise ParseError("keyword arguments are not allowed")
    if not isinstance(node.func, ast.Name):
        raise _reject(node.func)
    return _check_name(node.func.id), list(node.args)


# ---------------------------------------------------------------------------
# sympy


class SymbolTable:
    """Maps names to sympy symbols.

    With ``declared`` given, only those names are variables and any other name
    is an error; otherwise every new name becomes a symbol. ``flags`` are sympy
    assumptions per name (``{"x": {"positive": True}}``) on top of ``base``.
    """

    def __init__(
        self,
        declared: Sequence[str] | None = None,
        *,
        base: Mapping[str, bool] | None = None,
        flags: Mapping[str, Mapping[str, bool]] | None = None,
    ) -> None:
        self._declared = None if declared is None else [_check_name(n) for n in declared]
        self._base = dict(base or {})
        self._flags = {k: dict(v) for k, v in (flags or {}).items()}
        self._symbols: dict[str, sympy.Symbol] = {}
        for name in self._declared or ():
            self.symbol(name)

    @property
    def symbols(self) -> dict[str, sympy.Symbol]:
        """The symbols created so far, by name."""
        return dict(self._symbols)

    def is_variable(self, name: str) -> bool:
        """Whether ``name`` is (or would become) a variable rather than a constant."""
        return name in self._symbols or (
            self._declared is None and name not in _SYMPY_CONSTANTS and name != "e"
        )

    def symbol(self, name: str) -> sympy.Symbol:
        """The symbol for ``name``, creating it when undeclared names are allowed."""
        if name not in self._symbols:
            if self._declared is not None and name not in self._declared:
                raise ParseError(
                    f"unknown name {name!r}; declared variables: {', '.join(self._declared)}"
                )
            self._symbols[name] = sympy.Symbol(name, **{**self._base, **self._flags.get(name, {})})
        return self._symbols[name]


_SYMPY_CONSTANTS: dict[str, sympy.Expr] = {
    "pi": sympy.pi,
    "E": sympy.E,
    "I": sympy.I,
    "oo": sympy.oo,
}

_SYMPY_FUNCS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (constructor, min args, max args)
    "sin": (sympy.sin, 1, 1),
    "cos": (sympy.cos, 1, 1),
    "tan": (sympy.tan, 1, 1),
    "cot": (sympy.cot, 1, 1),
    "sec": (sympy.sec, 1, 1),
    "csc": (sympy.csc, 1, 1),
    "asin": (sympy.asin, 1, 1),
    "acos": (sympy.acos, 1, 1),
    "atan": (sympy.atan, 1, 1),
    "atan2": (sympy.atan2, 2, 2),
    "sinh": (sympy.sinh, 1, 1),
    "cosh": (sympy.cosh, 1, 1),
    "tanh": (sympy.tanh, 1, 1),
    "asinh": (sympy.asinh, 1, 1),
    "acosh": (sympy.acosh, 1, 1),
    "atanh": (sympy.atanh, 1, 1),
    "exp": (sympy.exp, 1, 1),
    "log": (sympy.log, 1, 2),
    "ln": (sympy.log, 1, 1),
    "sqrt": (sympy.sqrt, 1, 1),
    "cbrt": (sympy.cbrt, 1, 1),
    "root": (sympy.root, 2, 2),
    "Abs": (sympy.Abs, 1, 1),
    "abs": (sympy.Abs, 1, 1),
    "sign": (sympy.sign, 1, 1),
    "factorial": (sympy.factorial, 1, 1),
    "binomial": (sympy.binomial, 2, 2),
    "floor": (sympy.floor, 1, 1),
    "ceiling": (sympy.ceiling, 1, 1),
    "gcd": (sympy.gcd, 2, 2),
    "lcm": (sympy.lcm, 2, 2),
    "Min": (sympy.Min, 2, 8),
    "Max": (sympy.Max, 2, 8),
    "re": (sympy.re, 1, 1),
    "im": (sympy.im, 1, 1),
    "conjugate": (sympy.conjugate, 1, 1),
    "diff": (sympy.diff, 2, 3),
    "integrate": (sympy.integrate, 2, 2),
    "limit": (sympy.limit, 3, 3),
}

_COMPARE: dict[type[ast.cmpop], Callable[..., Any]] = {
    ast.Eq: sympy.Eq,
    ast.NotEq: sympy.Ne,
    ast.Lt: sympy.Lt,
    ast.LtE: sympy.Le,
    ast.Gt: sympy.Gt,
    ast.GtE: sympy.Ge,
}


def _check_number(value: Any) -> Any:
    """Reject exact numbers (or integer powers) beyond the size limits."""
    if isinstance(value, sympy.Rational):
        bits = int(value.p).bit_length() + int(value.q).bit_length()
        if bits > MAX_BITS:
            raise ParseError(f"a number in the expression exceeds {MAX_BITS} bits")
    elif isinstance(value, sympy.Pow):
        exponent = value.exp
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            raise ParseError(f"exponent {exponent} exceeds the limit of {MAX_EXPONENT}")
    return value


def _sympy_pow(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, sympy.Number) and abs(exponent) > MAX_EXPONENT:
        raise ParseError(f"exponent {exponent} exceeds the limit of {MAX_EXPONENT}")
    if isinstance(base, sympy.Rational) and isinstance(exponent, sympy.Rational):
        size = max(int(base.p).bit_length(), int(base.q).bit_length())
        if size * abs(exponent) > MAX_BITS:
            raise ParseError(f"{base}**{exponent} would exceed {MAX_BITS} bits")
    return base**exponent


class _SympyBuilder:
    def __init__(self, table: SymbolTable) -> None:
        self._table = table

    def build(self, node: ast.expr, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nests deeper than {MAX_DEPTH}")
        return _check_number(self._build(node, depth + 1))

    def _build(self, node: ast.expr, depth: int) -> Any:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.build(node.operand, depth)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise ParseError("chained comparisons (a < b < c) are not allowed here")
            lhs = self.build(node.left, depth)
            rhs = self.build(node.comparators[0], depth)
            relation = _COMPARE.get(type(node.ops[0]))
            if relation is None:
                raise _reject(node.ops[0])
            return relation(lhs, rhs, evaluate=False)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise _reject(node)

    def _constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _reject(node)
        if isinstance(value, int):
            return sympy.Integer(_int_literal(value))
        if value != value or value in (float("inf"), float("-inf")):
            raise ParseError("non-finite float literal")
        if abs(value) > 10.0**MAX_INT_DIGITS or (value and abs(value) < 10.0**-MAX_INT_DIGITS):
            raise ParseError(f"float literal outside 1e-{MAX_INT_DIGITS}..1e{MAX_INT_DIGITS}")
        return sympy.Rational(repr(value))

    def _name(self, name: str) -> Any:
        _check_name(name)
        if self._table.is_variable(name):
            return self._table.symbol(name)
        if name == "e":
            return sympy.E
        if name in _SYMPY_CONSTANTS:
            return _SYMPY_CONSTANTS[name]
        return self._table.symbol(name)

    def _binop(self, node: ast.BinOp, depth: int) -> Any:
        lhs = self.build(node.left, depth)
        rhs = self.build(node.right, depth)
        op = node.op
        if isinstance(op, ast.Add):
            return lhs + rhs
        if isinstance(op, ast.Sub):
            return lhs - rhs
        if isinstance(op, ast.Mult):
            return lhs * rhs
        if isinstance(op, ast.Div):
            return lhs / rhs
        if isinstance(op, ast.Pow):
            return _sympy_pow(lhs, rhs)
        if isinstance(op, ast.Mod):
            return sympy.Mod(lhs, rhs)
        if isinstance(op, ast.FloorDiv):
            return sympy.floor(lhs / rhs)
        raise ParseError(f"operator {type(op).__name__} not allowed")

    def _call(self, node: ast.Call, depth: int) -> Any:
        name, args = _call_parts(node)
        if name not in _SYMPY_FUNCS:
            raise ParseError(
                f"function {name!r} is not allowed; allowed: {', '.join(sorted(_SYMPY_FUNCS))}"
            )
        func, low, high = _SYMPY_FUNCS[name]
        if not low <= len(args) <= high:
            raise ParseError(f"{name} takes {low}..{high} arguments, got {len(args)}")
        if name == "integrate":
            return self._integrate(args, depth)
        built = [self.build(arg, depth) for arg in args]
        if name in ("diff", "limit") and not isinstance(built[1], sympy.Symbol):
            raise ParseError(f"{name}'s second argument must be a variable")
        if (
            name == "diff"
            and len(built) == 3
            and not (isinstance(built[2], sympy.Integer) and 0 < built[2] <= 20)
        ):
            raise ParseError("diff's order must be an integer from 1 to 20")
        if name in ("factorial", "binomial") and any(
            isinstance(b, sympy.Number) and abs(b) > MAX_FACTORIAL for b in built
        ):
            raise ParseError(f"{name} of a number above {MAX_FACTORIAL} is not allowed")
        return func(*built)

    def _integrate(self, args: list[ast.expr], depth: int) -> Any:
        integrand = self.build(args[0], depth)
        spec = args[1]
        if isinstance(spec, ast.Tuple) and len(spec.elts) == 3:
            var, low, high = (self.build(elt, depth) for elt in spec.elts)
            if not isinstance(var, sympy.Symbol):
                raise ParseError("integrate's bounds must look like (x, a, b)")
            return sympy.Integral(integrand, (var, low, high)).doit()
        var = self.build(spec, depth)
        if not isinstance(var, sympy.Symbol):
            raise ParseError("integrate's second argument must be a variable or (x, a, b)")
        return sympy.Integral(integrand, var).doit()


def parse_sympy(text: str, table: SymbolTable) -> Any:
    """Parse ``text`` into a sympy expression or relation (``Eq``, ``Lt``, …).

    A single ``=`` is read as equality. Raises :class:`ParseError` on anything
    outside the whitelist or the size limits.
    """
    try:
        return _SympyBuilder(table).build(_tree(text))
    except ParseError:
        raise
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise ParseError(f"cannot build expression: {exc}") from None


# ---------------------------------------------------------------------------
# z3

Z3Vars = Mapping[str, Any]

_Z3_MAX_POWER = 32
_ORDER: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _z3_bool(value: Any) -> Any:
    if not z3.is_bool(value):
        raise ParseError(f"expected a true/false formula, got the number {value}")
    return value


def _z3_num(value: Any) -> Any:
    if z3.is_bool(value):
        raise ParseError(f"expected a number, got the formula {value}")
    return value


def _is_variable(term: Any) -> bool:
    return bool(z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED)


def _z3_real(value: Any) -> Any:
    return z3.ToReal(value) if z3.is_int(value) else value


class _Z3Builder:
    def __init__(self, variables: Z3Vars) -> None:
        self._vars = variables

    def build(self, node: ast.expr, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ParseError(f"formula nests deeper than {MAX_DEPTH}")
        return self._build(node, depth + 1)

    def _build(self, node: ast.expr, depth: int) -> Any:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            name = _check_name(node.id)
            if name not in self._vars:
                raise ParseError(f"unknown name {name!r}; declare it in variables")
            return self._vars[name]
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand, depth)
            if isinstance(node.op, ast.Not):
                return z3.Not(_z3_bool(operand))
            if isinstance(node.op, ast.USub):
                return -_z3_num(operand)
            if isinstance(node.op, ast.UAdd):
                return _z3_num(operand)
            raise _reject(node.op)
        if isinstance(node, ast.BoolOp):
            parts = [_z3_bool(self.build(v, depth)) for v in node.values]
            return z3.And(*parts) if isinstance(node.op, ast.And) else z3.Or(*parts)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise _reject(node)

    def _constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, bool):
            return z3.BoolVal(value)
        if isinstance(value, int):
            return z3.IntVal(_int_literal(value))
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ParseError("non-finite float literal")
            return z3.RealVal(str(sympy.Rational(repr(value))))
        raise _reject(node)

    def _binop(self, node: ast.BinOp, depth: int) -> Any:
        lhs = _z3_num(self.build(node.left, depth))
        op = node.op
        if isinstance(op, ast.Pow):
            exponent = node.right
            if not (
                isinstance(exponent, ast.Constant)
                and type(exponent.value) is int
                and 0 <= exponent.value <= _Z3_MAX_POWER
            ):
                raise ParseError(
                    f"powers need a literal integer exponent from 0 to {_Z3_MAX_POWER}"
                )
            result = z3.IntVal(1) if z3.is_int(lhs) else z3.RealVal(1)
            for _ in range(exponent.value):
                result = result * lhs
            return z3.simplify(result) if exponent.value == 0 else result
        rhs = _z3_num(self.build(node.right, depth))
        if isinstance(op, ast.Add):
            return lhs + rhs
        if isinstance(op, ast.Sub):
            return lhs - rhs
        if isinstance(op, ast.Mult):
            return lhs * rhs
        if isinstance(op, ast.Div):
            return _z3_real(lhs) / _z3_real(rhs)
        if isinstance(op, ast.FloorDiv | ast.Mod):
            if not (z3.is_int(lhs) and z3.is_int(rhs)):
                raise ParseError("// and % need integer operands")
            return lhs / rhs if isinstance(op, ast.FloorDiv) else lhs % rhs
        raise ParseError(f"operator {type(op).__name__} not allowed")

    def _compare(self, node: ast.Compare, depth: int) -> Any:
        terms = [self.build(node.left, depth)] + [self.build(c, depth) for c in node.comparators]
        parts = []
        for op, lhs, rhs in zip(node.ops, terms, terms[1:], strict=False):
            if isinstance(op, ast.Eq):
                parts.append(lhs == rhs)
            elif isinstance(op, ast.NotEq):
                parts.append(lhs != rhs)
            elif type(op) in _ORDER:
                parts.append(_ORDER[type(op)](_z3_num(lhs), _z3_num(rhs)))
            else:
                raise _reject(op)
        return parts[0] if len(parts) == 1 else z3.And(*parts)

    def _call(self, node: ast.Call, depth: int) -> Any:
        name, args = _call_parts(node)
        if name in ("ForAll", "Exists"):
            if len(args) != 2 or not isinstance(args[0], ast.List | ast.Tuple):
                raise ParseError(f"write {name}([x, y], body)")
            bound = [self.build(elt, depth) for elt in args[0].elts]
            if not bound or not all(_is_variable(b) for b in bound):
                raise ParseError(f"{name}'s first argument must list declared variables")
            body = _z3_bool(self.build(args[1], depth))
            return z3.ForAll(bound, body) if name == "ForAll" else z3.Exists(bound, body)
        built = [self.build(arg, depth) for arg in args]
        if name in ("And", "Or") and built:
            parts = [_z3_bool(b) for b in built]
            return z3.And(*parts) if name == "And" else z3.Or(*parts)
        if name == "Not" and len(built) == 1:
            return z3.Not(_z3_bool(built[0]))
        if name == "Implies" and len(built) == 2:
            return z3.Implies(_z3_bool(built[0]), _z3_bool(built[1]))
        if name in ("Abs", "abs") and len(built) == 1:
            x = _z3_num(built[0])
            return z3.If(x >= 0, x, -x)
        raise ParseError(
            f"function {name!r} with {len(built)} arguments is not allowed; allowed: "
            "ForAll([..], f), Exists([..], f), Implies(a, b), And(..), Or(..), Not(a), Abs(x)"
        )


def parse_z3(text: str, variables: Z3Vars) -> Any:
    """Parse ``text`` into a z3 term over the declared ``variables`` (name → z3 const)."""
    try:
        return _Z3Builder(variables).build(_tree(text))
    except ParseError:
        raise
    except (z3.Z3Exception, TypeError, ValueError, RecursionError) as exc:
        raise ParseError(f"cannot build formula: {exc}") from None
