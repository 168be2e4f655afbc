"""Rendering and capping tool output."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ponder.tools._output import render_output, truncate


def test_render_output() -> None:
    assert render_output(None) == "(no output)"
    assert render_output("") == ""
    assert render_output("x") == "x"
    assert render_output([1, "a", None]) == '[1,"a",null]'
    assert render_output(object.__new__(type("Odd", (), {"__repr__": lambda s: "<odd>"}))) == (
        '"<odd>"'
    )


def test_short_text_is_untouched() -> None:
    assert truncate("abc", 100) == ("abc", 0)
    assert truncate("a" * 100, 100) == ("a" * 100, 0)


@given(size=st.integers(min_value=101, max_value=50_000), limit=st.integers(100, 5_000))
def test_truncate_keeps_head_tail_and_counts_the_cut(size: int, limit: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(size))
    out, cut = truncate(text, limit)
    if size <= limit:
        assert (out, cut) == (text, 0)
        return
    note = f"\n\n[... {cut} characters cut ...]\n\n"
    head, _, tail = out.partition(note)
    assert len(out) <= limit
    assert text.startswith(head) and text.endswith(tail)
    assert len(head) + len(tail) + cut == size
