"""A local full-text index: SQLite FTS5 with bm25 ranking, incremental by content hash.

Layout: ``files`` (one row per indexed document: key, root, sha256, mtime),
``chunks`` (source, title, body) and ``chunks_fts``, an external-content FTS5
table kept in step with ``chunks`` by triggers. Each indexing run is one
transaction: a crash or error leaves the index as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import platformdirs

from ponder.tools.search.chunking import chunk_document
from ponder.tools.search.corpus import (
    DEFAULT_GLOBS,
    Document,
    DocumentSet,
    default_corpus,
    default_corpus_version,
    folder_documents,
)
from ponder.tools.search.progress import Progress, ProgressBar
from ponder.tools.search.types import IndexStats, SearchResult

__all__ = ["MAX_K", "LocalIndex", "default_index_path", "index_command"]

MAX_K = 50
"""Most results one query returns."""

_SCHEMA_VERSION = "1"
_DEFAULT_CORPUS_KEY = "default_corpus"
_TITLE_WEIGHT, _BODY_WEIGHT = 3.0, 1.0
_SNIPPET_TOKENS = 32
_MAX_QUERY_TERMS = 24
_MAX_TERM_CHARS = 64
_BUSY_TIMEOUT_MS = 300_000
_TERM = re.compile(r"[^\W_]+")
_STOPWORD_TEXT = (
    "a an and are as at be by do does for from how i in is it of on or that the this to "
    "what when where which who why with"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    mtime REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_root ON files (root);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files (id),
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks (file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    title, body, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, title, body)
    VALUES ('delete', old.id, old.title, old.body);
END;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '{_SCHEMA_VERSION}');
"""

_QUERY = f"""
SELECT c.id, c.source, c.title,
       snippet(chunks_fts, 1, '**', '**', ' … ', {_SNIPPET_TOKENS}),
       bm25(chunks_fts, {_TITLE_WEIGHT}, {_BODY_WEIGHT}) AS rank
FROM chunks_fts JOIN chunks AS c ON c.id = chunks_fts.rowid
WHERE chunks_fts MATCH ?
ORDER BY rank
LIMIT ?
"""


def default_index_path(data_dir: str | Path | None = None) -> Path:
    """Where the default index lives: ``<user data dir>/search/index.sqlite3``."""
    base = Path(data_dir) if data_dir is not None else platformdirs.user_data_path("ponder")
    return base / "search" / "index.sqlite3"


class LocalIndex:
    """Full-text search over local documents, stored in one SQLite file.

    Searching is safe for any text: the query is reduced to quoted words, so FTS5
    syntax in it (quotes, AND, NEAR, ``*``, ``:``, parentheses) is never interpreted.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._schema_ready = False
        self._builds_default_corpus = False
        self._default_corpus_ready = False
        self._lock = threading.Lock()

    @classmethod
    def default(cls, *, data_dir: str | Path | None = None) -> LocalIndex:
        """The index in the user data dir; the default corpus is built on its first search.

        The build reads pydoc topics and the standard library's and sympy's sources:
        ~1,500 files, ~19,000 chunks, a 15 MB file, 6-8 s on two busy cores (see
        ``benchmarks/search_index.py``). Later runs reuse it; a new Python or sympy
        version triggers an incremental refresh.
        """
        index = cls(default_index_path(data_dir))
        index._builds_default_corpus = True
        return index

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"LocalIndex({str(self._path)!r})"

    def index_folder(
        self,
        folder: str | Path,
        *,
        globs: Iterable[str] = DEFAULT_GLOBS,
        progress: Progress | None = None,
    ) -> IndexStats:
        """Index the files under ``folder`` matching ``globs``, incrementally.

        Unchanged files (same sha256) are skipped, changed files' chunks replaced,
        and files indexed earlier from this folder but gone now are removed.
        ``progress(done, total)`` is called after each file.
        """
        return self._sync([folder_documents(Path(folder), globs)], progress=progress)

    def index_default_corpus(self, *, progress: Progress | None = None) -> IndexStats:
        """Build or refresh the offline default corpus (pydoc topics, stdlib, sympy)."""
        return self._sync(
            default_corpus(),
            meta={_DEFAULT_CORPUS_KEY: default_corpus_version()},
            progress=progress,
        )

    async def search(self, query: str, *, k: int = 5) -> list[SearchResult]:
        """The ``k`` best chunks for ``query`` by bm25 (titles weigh more), best first.

        A query with no searchable words gives ``[]``. ``k`` is capped at ``MAX_K``.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return await asyncio.to_thread(self._search, query, min(k, MAX_K))

    def _search(self, query: str, k: int) -> list[SearchResult]:
        if self._builds_default_corpus and not self._default_corpus_ready:
            self._ensure_default_corpus()
        terms = _query_terms(query)
        if not terms:
            return []
        quoted = [f'"{term}"' for term in terms]
        with closing(self._connect()) as conn:
            rows = conn.execute(_QUERY, (" AND ".join(quoted), k)).fetchall()
            if len(rows) < k and len(terms) > 1:
                seen = {row[0] for row in rows}
                extra = conn.execute(_QUERY, (" OR ".join(quoted), k)).fetchall()
                rows += [row for row in extra if row[0] not in seen][: k - len(rows)]
        return [
            SearchResult(source=source, title=title, snippet=snippet, score=-rank)
            for _, source, title, snippet, rank in rows
        ]

    def _ensure_default_corpus(self) -> None:
        with self._lock:
            with closing(self._connect()) as conn:
                row = conn.execute(
                    "SELECT value FROM meta WHERE key = ?", (_DEFAULT_CORPUS_KEY,)
                ).fetchone()
            if row is None or row[0] != default_corpus_version():
                # once per Python/sympy version: show why search waits, on a terminal
                bar = ProgressBar.on_terminal(
                    "ponder: building the offline search index (once; `ponder index` builds it "
                    "ahead)"
                )
                self.index_default_corpus(progress=bar)
                if bar is not None:
                    bar.finish()
            self._default_corpus_ready = True

    def _sync(
        self,
        sets: list[DocumentSet],
        meta: dict[str, str] | None = None,
        progress: Progress | None = None,
    ) -> IndexStats:
        started = time.perf_counter()
        seen = indexed = unchanged = removed = chunks = 0
        sizes = [document_set.size for document_set in sets]
        total = None if None in sizes else sum(size or 0 for size in sizes)
        with self._transaction() as conn:
            for document_set in sets:
                before = {
                    key: file_id
                    for file_id, key in conn.execute(
                        "SELECT id, key FROM files WHERE root = ?", (document_set.root,)
                    )
                }
                for document in document_set.documents:
                    seen += 1
                    before.pop(document.key, None)
                    written = _upsert(conn, document_set.root, document)
                    if written is None:
                        unchanged += 1
                    else:
                        indexed += 1
                        chunks += written
                    if progress is not None:
                        progress(seen, total)
                for file_id in before.values():
                    _delete_file(conn, file_id)
                    removed += 1
            for key, value in (meta or {}).items():
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return IndexStats(
            files_seen=seen,
            files_indexed=indexed,
            files_unchanged=unchanged,
            files_removed=removed,
            chunks=chunks,
            seconds=time.perf_counter() - started,
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._schema_ready:
                self._prepare_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare_schema(self, conn: sqlite3.Connection) -> None:
        """Create the tables; an index of another schema version is rebuilt from scratch."""
        conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
        if version != _SCHEMA_VERSION:
            conn.executescript(
                "BEGIN IMMEDIATE; DROP TABLE IF EXISTS chunks_fts; DROP TABLE IF EXISTS chunks;"
                f" DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta; {_SCHEMA} COMMIT;"
            )
        self._schema_ready = True


def index_command(folder: str, db: str | None) -> IndexStats:
    """``ponder index FOLDER [--db PATH]``: index a folder into ``db`` or the default index."""
    index = LocalIndex(db) if db else LocalIndex.default()
    return index.index_folder(folder)


def _query_terms(query: str) -> list[str]:
    """The query's distinct words, lower-cased; stopwords dropped unless nothing else is left."""
    words = [w for w in _TERM.findall(query.lower()) if len(w) <= _MAX_TERM_CHARS]
    distinct = list(dict.fromkeys(words))
    content = [w for w in distinct if w not in _STOPWORDS]
    return (content or distinct)[:_MAX_QUERY_TERMS]


def _upsert(conn: sqlite3.Connection, root: str, document: Document) -> int | None:
    """Write a changed or new document; the number of chunks written, or None if unchanged."""
    digest = hashlib.sha256(document.data).hexdigest()
    row = conn.execute("SELECT id, sha256 FROM files WHERE key = ?", (document.key,)).fetchone()
    if row is not None and row[1] == digest:
        conn.execute(
            "UPDATE files SET root = ?, mtime = ? WHERE id = ?", (root, document.mtime, row[0])
        )
        return None
    if row is None:
        file_id = conn.execute(
            "INSERT INTO files (key, root, sha256, mtime) VALUES (?, ?, ?, ?)",
            (document.key, root, digest, document.mtime),
        ).lastrowid
    else:
        file_id = row[0]
        conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        conn.execute(
            "UPDATE files SET root = ?, sha256 = ?, mtime = ? WHERE id = ?",
            (root, digest, document.mtime, file_id),
        )
    text = document.data.decode("utf-8", errors="replace")
    pieces = chunk_document(text, document.kind, name=document.name)
    conn.executemany(
        "INSERT INTO chunks (file_id, source, title, body) VALUES (?, ?, ?, ?)",
        [(file_id, _cite(document, p.line), p.title, p.body) for p in pieces],
    )
    return len(pieces)


def _cite(document: Document, line: int) -> str:
    return f"{document.source}:{line}" if document.cites_lines else document.source


def _delete_file(conn: sqlite3.Connection, file_id: int) -> None:
    conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
    conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
