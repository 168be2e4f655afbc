"""Split documents into searchable chunks.

Markdown and reStructuredText split at headings, then at paragraphs so no chunk
exceeds ``MAX_CHUNK_CHARS``; a chunk's title is its heading trail. Python files
are parsed with ``ast`` (never imported or executed) and give one chunk per
module, class and function docstring, titled by qualified name.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_CHUNK_CHARS",
    "Chunk",
    "DocKind",
    "chunk_document",
    "kind_for_suffix",
]

MAX_CHUNK_CHARS = 2000
"""Upper bound on a chunk's body, in characters."""

DocKind = Literal["markdown", "rst", "text", "python"]

_TITLE_SEP = " › "
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
_SUFFIX_KINDS: dict[str, DocKind] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".py": "python",
    ".pyi": "python",
}


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: its title, its text and the 1-based line it starts at."""

    title: str
    body: str
    line: int


def kind_for_suffix(suffix: str) -> DocKind:
    """The document kind for a file suffix such as ``".md"``; unknown suffixes are plain text."""
    return _SUFFIX_KINDS.get(suffix.lower(), "text")


def chunk_document(text: str, kind: DocKind, *, name: str) -> list[Chunk]:
    """Chunk ``text`` of the given kind.

    ``name`` titles chunks that have no heading; for Python it is the module's
    dotted name, the prefix of every qualified name.
    """
    if kind == "python":
        return _chunk_python(text, module=name)
    if kind == "markdown":
        sections = _markdown_sections(text)
    elif kind == "rst":
        sections = _rst_sections(text)
    else:
        sections = [((), 1, text.splitlines())]
    chunks: list[Chunk] = []
    for trail, first_line, lines in sections:
        title = _TITLE_SEP.join(trail) if trail else name
        for body, line in _pack_paragraphs(lines, first_line):
            chunks.append(Chunk(title=title, body=body, line=line))
    return chunks


_Section = tuple[tuple[str, ...], int, list[str]]


def _markdown_sections(text: str) -> list[_Section]:
    """ATX-heading sections (headings inside fenced code are text)."""
    sections: list[_Section] = []
    trail: list[tuple[int, str]] = []
    start, lines = 1, []
    in_fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            in_fence = None if in_fence == marker else (in_fence or marker)
        heading = None if in_fence or fence else _ATX_HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        sections.append((tuple(t for _, t in trail), start, lines))
        level = len(heading.group(1))
        trail = [(lvl, t) for lvl, t in trail if lvl < level]
        trail.append((level, heading.group(2)))
        start, lines = number + 1, []
    sections.append((tuple(t for _, t in trail), start, lines))
    return sections


def _rst_sections(text: str) -> list[_Section]:
    """Sections under underlined (optionally overlined) titles; levels in order of appearance."""
    source = text.splitlines()
    styles: list[tuple[str, bool]] = []
    sections: list[_Section] = []
    trail: list[tuple[int, str]] = []
    start, lines = 1, []
    i = 0
    while i < len(source):
        heading = _rst_heading_at(source, i)
        if heading is None:
            lines.append(source[i])
            i += 1
            continue
        title, style, consumed = heading
        sections.append((tuple(t for _, t in trail), start, lines))
        if style not in styles:
            styles.append(style)
        level = styles.index(style)
        trail = [(lvl, t) for lvl, t in trail if lvl < level]
        trail.append((level, title))
        i += consumed
        start, lines = i + 1, []
    sections.append((tuple(t for _, t in trail), start, lines))
    return sections


def _rst_heading_at(lines: list[str], i: int) -> tuple[str, tuple[str, bool], int] | None:
    """``(title, (char, overlined), lines consumed)`` if a section title starts at ``i``."""
    over = _RST_ADORNMENT.match(lines[i])
    if over and i + 2 < len(lines):
        title, under = lines[i + 1].strip(), _RST_ADORNMENT.match(lines[i + 2])
        if title and under and under.group(1) == over.group(1):
            return title, (over.group(1), True), 3
    if i + 1 < len(lines):
        title, under = lines[i].strip(), _RST_ADORNMENT.match(lines[i + 1])
        if (
            title
            and under
            and not _RST_ADORNMENT.match(lines[i])
            and not lines[i][:1].isspace()
            and len(lines[i + 1].rstrip()) >= len(title)
        ):
            return title, (under.group(1), False), 2
    return None


def _pack_paragraphs(lines: list[str], first_line: int) -> Iterator[tuple[str, int]]:
    """Greedily join blank-line separated paragraphs into bodies of at most the cap."""
    body: list[str] = []
    body_line = first_line
    size = 0
    for paragraph, line in _paragraphs(lines, first_line):
        for piece in _split_long(paragraph):
            if body and size + len(piece) + 2 > MAX_CHUNK_CHARS:
                yield "\n\n".join(body), body_line
                body, size = [], 0
            if not body:
                body_line = line
            body.append(piece)
            size += len(piece) + 2
    if body:
        yield "\n\n".join(body), body_line


def _paragraphs(lines: list[str], first_line: int) -> Iterator[tuple[str, int]]:
    current: list[str] = []
    start = first_line
    for offset, line in enumerate(lines):
        if line.strip():
            if not current:
                start = first_line + offset
            current.append(line.rstrip())
        elif current:
            yield "\n".join(current), start
            current = []
    if current:
        yield "\n".join(current), start


def _split_long(paragraph: str) -> Iterator[str]:
    """Cut a paragraph longer than the cap at whitespace (or hard, if there is none)."""
    while len(paragraph) > MAX_CHUNK_CHARS:
        cut = paragraph.rfind(" ", MAX_CHUNK_CHARS // 2, MAX_CHUNK_CHARS)
        cut = max(cut, paragraph.rfind("\n", MAX_CHUNK_CHARS // 2, MAX_CHUNK_CHARS))
        if cut <= 0:
            cut = MAX_CHUNK_CHARS
        yield paragraph[:cut].rstrip()
        paragraph = paragraph[cut:].lstrip()
    if paragraph:
        yield paragraph


def _chunk_python(source: str, *, module: str) -> list[Chunk]:
    """Docstring chunks of a module, its classes, functions and methods (not nested locals)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    chunks: list[Chunk] = []
    docstring = ast.get_docstring(tree)
    if docstring:
        chunks.extend(_docstring_chunks(module, module, docstring, 1))
    chunks.extend(_definition_chunks(tree.body, module))
    return chunks


def _definition_chunks(body: list[ast.stmt], prefix: str) -> Iterator[Chunk]:
    for node in body:
        if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        qualname = f"{prefix}.{node.name}" if prefix else node.name
        docstring = ast.get_docstring(node)
        if docstring:
            yield from _docstring_chunks(qualname, _signature(node), docstring, node.lineno)
        if isinstance(node, ast.ClassDef):
            yield from _definition_chunks(node.body, qualname)


def _signature(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(b) for b in node.bases)
        return f"class {node.name}({bases})" if bases else f"class {node.name}"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return f"{prefix} {node.name}({ast.unparse(node.args)})"


def _docstring_chunks(title: str, header: str, docstring: str, line: int) -> Iterator[Chunk]:
    text = f"{header}\n\n{docstring}"
    for body, _ in _pack_paragraphs(text.splitlines(), line):
        yield Chunk(title=title, body=body, line=line)
