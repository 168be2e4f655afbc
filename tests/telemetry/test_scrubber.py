"""The scrubber removes a run's reasoning from free text: whole, in fragments, or in tags."""

from __future__ import annotations

from ponder.telemetry.content import REDACTED, Scrubber

THOUGHT = "The user probably wants the sum; I should call add with 20 and 22 and check it."


def scrubber(*thoughts: str) -> Scrubber:
    scrub = Scrubber()
    for thought in thoughts:
        for i in range(0, len(thought), 7):  # as stream deltas
            scrub.add(thought[i : i + 7])
        scrub.end_thought()
    return scrub


def test_an_echoed_fragment_is_redacted_and_the_rest_kept() -> None:
    text = f'HTTP 500: bad request {{"reasoning_content": "{THOUGHT[10:60]}", "role": "x"}}'
    out = scrubber(THOUGHT).scrub(text)
    assert THOUGHT[10:60] not in out and THOUGHT[20:44] not in out
    assert out.startswith("HTTP 500: bad request") and out.endswith('", "role": "x"}')
    assert out.count(REDACTED) == 1


def test_short_thoughts_think_tags_and_pending_deltas() -> None:
    scrub = scrubber("tiny secret")
    scrub.add("a thought still streaming when the error came")
    text = "x tiny secret y <think>hidden</think> z; a thought still streaming when the error came"
    out = scrub.scrub(text)
    assert "tiny secret" not in out and "hidden" not in out and "still streaming" not in out
    assert out.startswith("x ") and " z; " in out


def test_text_sharing_nothing_with_the_reasoning_is_untouched() -> None:
    text = "Error: tool 'add' failed with ValueError: a must be positive"
    assert scrubber(THOUGHT).scrub(text) == text
