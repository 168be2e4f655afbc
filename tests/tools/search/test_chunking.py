"""Chunking markdown, reStructuredText, plain text and Python sources."""

from __future__ import annotations

from ponder.tools.search.chunking import MAX_CHUNK_CHARS, Chunk, chunk_document, kind_for_suffix


def test_markdown_splits_at_headings_with_trail_and_lines() -> None:
    text = "intro line\n\n# Install\n\nRun pip.\n\n## Linux\n\nUse apt.\n\n# Usage\n\nCall it.\n"
    assert chunk_document(text, "markdown", name="README.md") == [
        Chunk("README.md", "intro line", 1),
        Chunk("Install", "Run pip.", 5),
        Chunk("Install › Linux", "Use apt.", 9),
        Chunk("Usage", "Call it.", 13),
    ]


def test_markdown_heading_inside_fence_is_text() -> None:
    text = "# Real\n\n```sh\n# not a heading\n```\n"
    (chunk,) = chunk_document(text, "markdown", name="x.md")
    assert chunk.title == "Real"
    assert "# not a heading" in chunk.body


def test_rst_levels_follow_adornment_order() -> None:
    text = (
        "=====\nGuide\n=====\n\nOverview text.\n\nSetup\n-----\n\nSetup text.\n\n"
        "Details\n~~~~~~~\n\nDeep text.\n\nOther\n-----\n\nOther text.\n"
    )
    titles = [(c.title, c.body) for c in chunk_document(text, "rst", name="g.rst")]
    assert titles == [
        ("Guide", "Overview text."),
        ("Guide › Setup", "Setup text."),
        ("Guide › Setup › Details", "Deep text."),
        ("Guide › Other", "Other text."),
    ]


def test_rst_short_underline_is_not_a_heading() -> None:
    (chunk,) = chunk_document("A long line of text\n---\n", "rst", name="n.rst")
    assert chunk.title == "n.rst"


def test_size_cap_packs_paragraphs_and_splits_long_ones() -> None:
    paragraphs = ["word " * 150] * 6 + ["x" * (3 * MAX_CHUNK_CHARS)]
    chunks = chunk_document("\n\n".join(paragraphs), "text", name="big.txt")
    assert all(len(c.body) <= MAX_CHUNK_CHARS for c in chunks)
    assert len(chunks) >= 5
    assert "".join(c.body for c in chunks).count("x") == 3 * MAX_CHUNK_CHARS


def test_python_docstrings_with_qualified_names_never_executed() -> None:
    source = '''
"""Module doc."""
import sys
sys.exit("executed!")

class Greeter(Base):
    """Says hello."""

    def greet(self, name: str = "you") -> str:
        """Greet someone by name."""

    def _undocumented(self):
        pass

async def fetch(url):
    """Fetch a URL."""
    def inner():
        """Nested locals are not indexed."""
'''
    chunks = chunk_document(source, "python", name="pkg.mod")
    assert [(c.title, c.line) for c in chunks] == [
        ("pkg.mod", 1),
        ("pkg.mod.Greeter", 6),
        ("pkg.mod.Greeter.greet", 9),
        ("pkg.mod.fetch", 15),
    ]
    assert chunks[1].body == "class Greeter(Base)\n\nSays hello."
    assert chunks[2].body.startswith("def greet(self, name: str='you')")
    assert chunks[3].body.startswith("async def fetch(url)")


def test_python_syntax_error_gives_no_chunks() -> None:
    assert chunk_document("def broken(:\n", "python", name="m") == []
    assert chunk_document("x = 1\0", "python", name="m") == []


def test_kind_for_suffix() -> None:
    assert [kind_for_suffix(s) for s in (".md", ".RST", ".py", ".txt", ".log")] == [
        "markdown",
        "rst",
        "python",
        "text",
        "text",
    ]
