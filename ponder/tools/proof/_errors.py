"""The proof checker's error types, importable without sympy or z3."""

__all__ = ["ParseError"]


class ParseError(ValueError):
    """The text is not in the accepted math language; the message says why."""
