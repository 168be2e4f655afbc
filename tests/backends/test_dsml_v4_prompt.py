"""Raw DeepSeek V4 (profile ``deepseek-v4-raw``): V4's own prompt encoding on the wire.

V4 has no tool role: tools are described in the system prompt, an earlier
call goes back as DSML in the assistant's text and its result inside the next
user turn as a ``<tool_result>`` block (DeepSeek's ``encoding_dsv4.py``).
"""

from __future__ import annotations

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.backends.dsml_tools import parse_dsml_tool_calls
from ponder.testing import FakeModelServer, Turn


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first addend
        b: the second addend
    """
    return a + b


CALL = (
    "<think>\nI should add them.\n</think>\n\nAdding.\n\n<｜DSML｜tool_calls>\n"
    '<｜DSML｜invoke name="add">\n'
    '<｜DSML｜parameter name="a" string="false">1</｜DSML｜parameter>\n'
    '<｜DSML｜parameter name="b" string="false">2</｜DSML｜parameter>\n'
    "</｜DSML｜invoke>\n</｜DSML｜tool_calls>"
)


async def test_tools_results_and_calls_travel_in_v4_encoding() -> None:
    turns = [Turn(content=CALL), Turn(content="<think>\nIt is 3.\n</think>\n\n1 + 2 = 3.")]
    async with FakeModelServer(turns, shape="vllm") as server:
        backend = OpenAICompatibleBackend(
            base_url=server.base_url, model="DeepSeek-V4-Flash", profile="deepseek-v4-raw"
        )
        async with backend:
            result = await Agent(backend, [add]).arun("What is 1 + 2?")
        first, second = (r.body for r in server.requests)
    assert result.ok and result.answer_text == "1 + 2 = 3."
    assert [(r.name, r.output) for r in result.tool_calls] == [("add", "3")]
    assert first is not None and second is not None
    assert "tools" not in first and "tool_choice" not in first
    system = first["messages"][0]
    assert system["role"] == "system" and "<｜DSML｜tool_calls>" in system["content"]
    assert '"name": "add"' in system["content"]
    roles = [m["role"] for m in second["messages"]]
    assert "tool" not in roles and roles == ["system", "user", "assistant", "user"]
    assistant = second["messages"][2]
    assert "tool_calls" not in assistant and "reasoning_content" not in assistant
    text, calls = parse_dsml_tool_calls(assistant["content"])
    assert text == "Adding." and [(c.name, c.arguments) for c in calls] == [
        ("add", '{"a": 1, "b": 2}')
    ]
    assert second["messages"][3]["content"] == "<tool_result>3</tool_result>"
    assert "I should add them" not in str(second)  # reasoning is never replayed
