"""The search store: full-text queries over one user's messages and tasks."""

import html
from collections.abc import Mapping
from typing import Any

from sqlalchemy import TextClause, text

from todochat.db import Store
from todochat.errors import Invalid
from todochat.search import syntax
from todochat.search.models import MAX_HITS, MAX_QUERY_CHARS, HitKind, SearchHit

# Noncharacters, which Unicode reserves for a program's own use: they mark the matched words
# until the snippet is escaped, and then become <mark> elements.
START, STOP = "\ufdd0", "\ufdd1"
SNIPPET_WORDS = 16
HEADLINE = (
    f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords=6,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)

# Each kind's best `limit` hits, found and ranked by ts_rank (scaled down for long texts) in the
# lexeme tables, which row-level security does not bind (so that their GIN indexes serve `@@`):
# `message_search` holds the live messages that are searched, with their `created_at`.
# Every hit is then joined to its message or task, which the policies do bind, for its text;
# the snippets (ts_headline, which parses the whole text) only for the best. Messages of
# deleted conversations are left out by a NOT IN against the user's few deleted ones.
WORDS = "websearch_to_tsquery('english', :q)"  # immutable: the planner reads the query's words
POSTGRESQL = f"""
WITH message_hits AS (
    SELECT s.user_id, s.conversation_id, s.seq, ts_rank(s.search_vector, {WORDS}, 1) AS rank,
           s.created_at AS at
    FROM message_search AS s
    WHERE s.user_id = :user_id AND s.search_vector @@ {WORDS}
      AND s.conversation_id NOT IN (
          SELECT id FROM conversations WHERE user_id = :user_id AND deleted_at IS NOT NULL)
    ORDER BY rank DESC, at DESC
    LIMIT :limit
),
hits AS (
    SELECT h.conversation_id, h.seq, CAST(NULL AS INTEGER) AS task_id, h.rank, h.at,
           m.content AS text
    FROM message_hits AS h
    JOIN messages AS m
      ON m.user_id = h.user_id AND m.conversation_id = h.conversation_id AND m.seq = h.seq
    UNION ALL
    (SELECT NULL, NULL, t.id, ts_rank(s.search_vector, {WORDS}, 1) AS rank, t.updated_at AS at,
            t.title || ' ' || coalesce(t.description, '')
     FROM task_search AS s
     JOIN tasks AS t ON t.user_id = s.user_id AND t.id = s.task_id
     WHERE s.user_id = :user_id AND s.search_vector @@ {WORDS}
     ORDER BY rank DESC, at DESC
     LIMIT :limit)
)
SELECT hits.conversation_id, hits.seq, hits.task_id,
       ts_headline('english', hits.text, {WORDS}, :headline)
FROM hits
ORDER BY hits.rank DESC, hits.at DESC
LIMIT :limit
"""  # noqa: S608 (constant text: the query's words are a parameter)

# FTS5 finds the matches (CROSS JOIN keeps it the outer loop), every one checked against the
# user's own entries; bm25 ranks them (lower is better); snippets for the best `limit` only.
SQLITE = """
WITH hits AS (
    SELECT e.id, e.conversation_id, e.seq, e.task_id, bm25(search_index) AS rank
    FROM search_index
    CROSS JOIN search_entries AS e ON e.id = search_index.rowid
    LEFT JOIN messages AS m
      ON m.user_id = e.user_id AND m.conversation_id = e.conversation_id AND m.seq = e.seq
    WHERE search_index MATCH :q AND e.user_id = :user_id
      AND (e.task_id IS NOT NULL OR (m.deleted_at IS NULL AND e.conversation_id NOT IN (
          SELECT id FROM conversations WHERE user_id = :user_id AND deleted_at IS NOT NULL)))
    ORDER BY rank, e.id DESC
    LIMIT :limit
)
SELECT hits.conversation_id, hits.seq, hits.task_id,
       snippet(search_index, 0, :start, :stop, '…', :words)
FROM search_index
CROSS JOIN hits ON hits.id = search_index.rowid
WHERE search_index MATCH :q
ORDER BY hits.rank, hits.id DESC
"""

STATEMENTS: Mapping[str, TextClause] = {
    "postgresql": text(POSTGRESQL),
    "sqlite": text(SQLITE),
}


def parameters(backend: str, user_id: str, query: str, limit: int) -> dict[str, Any] | None:
    """The statement's parameters for `query`; None when it looks for nothing."""
    if "\x00" in query:
        raise Invalid.field("q", "must not contain NUL characters")
    if not 1 <= len(query) <= MAX_QUERY_CHARS:
        raise Invalid.field("q", f"must be 1-{MAX_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_HITS:
        raise Invalid.field("limit", f"must be between 1 and {MAX_HITS}")
    groups = syntax.parse(query)
    if not groups:  # nothing but exclusions: no index can answer that, and no one means it
        return None
    common = {"user_id": user_id, "limit": limit}
    if backend == "postgresql":
        return {**common, "q": query, "headline": HEADLINE}
    fts = syntax.to_fts5(groups)
    return {**common, "q": fts, "start": START, "stop": STOP, "words": SNIPPET_WORDS}


def marked(snippet: str) -> str:
    """The snippet as HTML: its text escaped, the matched words in <mark> elements."""
    return html.escape(snippet).replace(START, "<mark>").replace(STOP, "</mark>")


class SearchStore(Store):
    """Full-text search over one user's live messages and tasks."""

    async def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """The best `limit` matches of `query` (web-search syntax), best first."""
        backend = self.session.get_bind().dialect.name
        values = parameters(backend, self.user_id, query, limit)
        if values is None:
            return []
        rows = await self.session.execute(STATEMENTS[backend], values)
        return [
            SearchHit(
                HitKind.TASK if task_id is not None else HitKind.MESSAGE,
                conversation_id,
                seq,
                task_id,
                marked(snippet),
            )
            for conversation_id, seq, task_id, snippet in rows
        ]
