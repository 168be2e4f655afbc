"""The check_proof tool: its schema as the model sees it, and calls with model-shaped JSON."""

from __future__ import annotations

import jsonschema
import pytest

from ponder.tools import ToolArgumentError
from ponder.tools.proof.tool import check_proof_tool


def test_spec_describes_every_claim_kind() -> None:
    spec = check_proof_tool().spec()
    assert spec.name == "check_proof"
    text = str(spec.parameters)
    for kind in ("identity", "solutions", "derivation", "smt", "lean"):
        assert f"'{kind}'" in text
    assert "explicit products" in text
    assert "failed_step" not in text


def test_schema_accepts_a_model_written_claim_and_rejects_a_bad_kind() -> None:
    parameters = check_proof_tool().spec().parameters
    claim = {"kind": "solutions", "equations": "x**2 - 5*x + 6 = 0", "solutions": ["2", "3"]}
    jsonschema.validate({"claim": claim}, parameters)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"claim": {"kind": "guess", "text": "1 = 1"}}, parameters)


async def test_invoke_returns_verdict_text() -> None:
    tool = check_proof_tool()
    text = await tool.invoke(
        {"claim": {"kind": "derivation", "steps": ["x**2 = 3*x", "x**2 - 3*x = 0", "x = 3"]}}
    )
    assert text.startswith("REFUTED (derivation): first wrong step is step 3")
    assert "Counterexample: x = 0" in text


async def test_invalid_arguments_are_reported_for_the_model() -> None:
    with pytest.raises(ToolArgumentError):
        await check_proof_tool().invoke({"claim": {"kind": "identity", "lhs": "x"}})
