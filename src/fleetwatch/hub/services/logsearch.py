"""Log search text (`GET /api/logs?q=`) on both engines' full-text indexes.

The syntax is small and the same everywhere: words (every one must match), `"quoted
phrases"`, and `prefix*`. Case does not matter. Each term is handed to the engine as data,
never as its own query language: SQLite FTS5 gets each term as a quoted string (`"..."`,
prefix terms `"..."*`), PostgreSQL gets `phraseto_tsquery('simple', term)` (prefix terms
`to_tsquery('simple', 'word:*')` of their words), joined with AND. Both tokenize the term
as they tokenized the stored line, so "disk /var full" finds the same lines on both. A query
they could not run (an unclosed quote, a term without letters or digits, too long) is a
`QueryError`: the API answers 400 `invalid_query` with its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column

MAX_QUERY = 500
MAX_TERMS = 16
_WORD = re.compile(r"\w+")


class QueryError(ValueError):
    """A search text the log store cannot run (the message says why)."""


@dataclass(frozen=True)
class Term:
    text: str
    prefix: bool = False


def parse(q: str) -> list[Term]:
    """The terms of `q` (QueryError for a query no engine should see)."""
    if len(q) > MAX_QUERY:
        raise QueryError(f"q: at most {MAX_QUERY} characters")
    terms: list[Term] = []
    i, n = 0, len(q)
    while i < n:
        if q[i].isspace():
            i += 1
            continue
        if q[i] == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QueryError(f"q: the quote at character {i + 1} is never closed")
            text, i = q[i + 1 : end], end + 1
            prefix = i < n and q[i] == "*"
            i += prefix
        else:
            end = i
            while end < n and not q[end].isspace() and q[end] != '"':
                end += 1
            text, i = q[i:end], end
            prefix = text.endswith("*")
            text = text.rstrip("*")
        if not _WORD.search(text):
            raise QueryError(f"q: {text or '*'!r} has no letters or digits to search for")
        terms.append(Term(text, prefix))
    if len(terms) > MAX_TERMS:
        raise QueryError(f"q: at most {MAX_TERMS} terms")
    return terms


def fts5_match(terms: list[Term]) -> str:
    """The FTS5 MATCH expression of `terms` (each a quoted string: no operator can leak)."""
    parts = ['"' + t.text.replace('"', '""') + '"' + ("*" if t.prefix else "") for t in terms]
    return " AND ".join(parts)


def pg_match(terms: list[Term]) -> ColumnElement[Any]:
    """`log_lines.tsv @@ <tsquery>` for `terms` (bound parameters only)."""
    query: Any = None
    for t in terms:
        if t.prefix:
            words = _WORD.findall(t.text.lower())
            part = func.to_tsquery("simple", " <-> ".join(words) + ":*")
        else:
            part = func.phraseto_tsquery("simple", t.text)
        query = part if query is None else query.op("&&")(part)
    result: ColumnElement[Any] = literal_column("log_lines.tsv").op("@@")(query)
    return result
