"""JSON mode: ask for a schema-valid answer, then check it locally."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from pydantic import BaseModel, ValidationError

from ponder.backends.types import ResponseFormat

__all__ = ["AnswerFormat", "InvalidAnswer"]

_MAX_REPORTED_ERRORS = 5
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class InvalidAnswer(ValueError):
    """The final answer is not JSON valid against the schema."""


class AnswerFormat:
    """A JSON Schema (or pydantic model) the final answer must satisfy."""

    def __init__(self, schema: dict[str, Any] | type[BaseModel]) -> None:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            self.model: type[BaseModel] | None = schema
            self.json_schema: dict[str, Any] = schema.model_json_schema()
            self.name = schema.__name__
        elif isinstance(schema, dict):
            jsonschema.Draft202012Validator.check_schema(schema)
            self.model = None
            self.json_schema = schema
            self.name = str(schema.get("title") or "answer")
        else:
            raise TypeError("schema must be a JSON Schema dict or a pydantic model class")
        self._validator = jsonschema.Draft202012Validator(self.json_schema)

    def response_format(self) -> ResponseFormat:
        safe_name = re.sub(r"[^a-zA-Z0-9_-]", "_", self.name)[:64] or "answer"
        return ResponseFormat(type="json_schema", json_schema=self.json_schema, name=safe_name)

    def instructions(self) -> str:
        """The system-prompt paragraph that asks for JSON (it names the word json)."""
        return (
            "Give your final answer as one JSON object, with no text before or after it, "
            "valid against this JSON Schema:\n" + json.dumps(self.json_schema, indent=None)
        )

    def parse(self, text: str) -> Any:
        """The validated value (a model instance when built from one).

        Raises :class:`InvalidAnswer` with a message the model can act on.
        """
        value = self._decode(text)
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            problems = "; ".join(
                f"at {'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
                for error in errors[:_MAX_REPORTED_ERRORS]
            )
            raise InvalidAnswer(f"the JSON does not match the schema: {problems}")
        if self.model is None:
            return value
        try:
            return self.model.model_validate(value)
        except ValidationError as exc:
            raise InvalidAnswer(f"the JSON does not match the schema: {exc}") from exc

    @staticmethod
    def _decode(text: str) -> Any:
        body = text.strip()
        fenced = _FENCE.match(body)
        if fenced:
            body = fenced.group(1).strip()
        if not body:
            raise InvalidAnswer("the answer was empty; reply with the JSON object only")
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            pass
        start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
        if start >= 0:
            try:
                value, _ = json.JSONDecoder().raw_decode(body, start)
                return value
            except json.JSONDecodeError:
                pass
        raise InvalidAnswer("the answer is not valid JSON; reply with the JSON object only")
