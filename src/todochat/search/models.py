"""What a search answers, and the database objects behind it that no ORM table maps."""

from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel

MAX_QUERY_CHARS = 500
MAX_HITS = 50
# Maintained by the database itself (by triggers), defined in the migrations: schema
# comparisons leave them out. SQLite's FTS5 index, and PostgreSQL's lexemes.
SQLITE_SEARCH_TABLES = frozenset(
    {
        "search_entries",
        "search_index",
        "search_index_config",
        "search_index_data",
        "search_index_docsize",
        "search_index_idx",
    }
)
POSTGRESQL_SEARCH_TABLES = frozenset({"message_search", "task_search"})
SEARCH_TABLES = SQLITE_SEARCH_TABLES | POSTGRESQL_SEARCH_TABLES


class HitKind(StrEnum):
    """What a search hit is."""

    MESSAGE = "message"
    TASK = "task"


class SearchHit(NamedTuple):
    """One match: a message (`conversation_id`, `seq`) or a task (`task_id`)."""

    kind: HitKind
    conversation_id: int | None
    seq: int | None
    task_id: int | None
    snippet: str  # HTML: the text escaped, the matched words in <mark> elements


class SearchHitPublic(BaseModel):
    """A search hit as clients see it."""

    kind: HitKind
    conversation_id: int | None
    seq: int | None
    task_id: int | None
    snippet: str


class SearchResults(BaseModel):
    """The best matches first; each snippet is HTML with the matched words in <mark>."""

    items: list[SearchHitPublic]
