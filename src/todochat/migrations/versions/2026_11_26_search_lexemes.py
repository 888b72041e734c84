"""PostgreSQL's search lexemes in tables of their own, which row-level security does not bind.

Under row-level security the planner must check a row's policies before any condition that is
not LEAKPROOF, and the text search operator `@@` is not: the GIN indexes on `messages` and
`tasks` could no longer find a word, and a search read every one of its user's messages
(seven times as long on the benchmark). Only a superuser may mark `@@` leakproof, which no
managed service allows. The lexemes therefore move to `message_search` and `task_search`,
keyed like the rows they index, with no policies: `@@` serves from their GIN indexes (led by
`user_id`) again, and a search joins what it found to `messages` and `tasks`, which the
policies still bind, before it returns anything.

`message_search` holds the live messages that are searched (people's and the assistant's) and
their `created_at`, so that a search ranks them without reading `messages`; `task_search`
holds every task, whose other columns a search reads from `tasks`. Triggers keep them in
step: once per statement for inserts (COPY included) and deletes (cascades included), once per
row for a change of what is indexed. The rows there are indexed on upgrade, from the generated
`search_vector` columns, which then go with their indexes; downgrade brings those back.
SQLite keeps its FTS5 index: nothing changes there.

Revision ID: 2026_11_26_search_lexemes
Revises: 2026_11_26_plain_policies
Create Date: 2026-11-26
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alembic import op

revision: str = "2026_11_26_search_lexemes"
down_revision: str | None = "2026_11_26_plain_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED_ROLES = "('user', 'assistant')"


@dataclass(frozen=True)
class Lexemes:
    """A table of the lexemes of `source`'s rows, and how it is kept in step."""

    table: str
    source: str
    copied: dict[str, tuple[str, str]]  # each column but the lexemes: its source, its type
    key: tuple[str, ...]
    text: str  # SQL of `{row}`: what is indexed
    entered: str  # SQL of `{row}`: which rows have an entry
    changed: str  # the source's columns that change either
    generated: str  # the source's `search_vector` before this revision

    def _insert(self, row: str, from_clause: str) -> str:
        values = ", ".join(f"{row}.{column}" for column, _ in self.copied.values())
        return (
            f"INSERT INTO {self.table} ({', '.join(self.copied)}, search_vector)"
            f" SELECT {values}, to_tsvector('english'::regconfig, {self.text.format(row=row)})"
            f"{from_clause} WHERE {self.entered.format(row=row)}"
        )

    def _entry_of(self, row: str) -> str:
        return " AND ".join(
            f"{self.table}.{column} = {row}.{self.copied[column][0]}" for column in self.key
        )

    def up(self) -> list[str]:
        """Create the table, fill it from the generated column, index it, keep it in step."""
        columns = ", ".join(
            f"{column} {kind} NOT NULL" for column, (_, kind) in self.copied.items()
        )
        filled = ", ".join(f"{self.source}.{column}" for column, _ in self.copied.values())
        return [
            f"CREATE TABLE {self.table} ({columns}, search_vector tsvector NOT NULL,"
            f" CONSTRAINT pk_{self.table} PRIMARY KEY ({', '.join(self.key)}))",
            f"INSERT INTO {self.table} SELECT {filled}, search_vector FROM {self.source}"
            f" WHERE {self.entered.format(row=self.source)}",
            f"CREATE INDEX ix_{self.table} ON {self.table} USING gin (user_id, search_vector)",
            f"CREATE FUNCTION {self.table}_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF TG_OP = 'DELETE' THEN DELETE FROM {self.table} USING removed"
            f" WHERE {self._entry_of('removed')};"
            f" ELSE {self._insert('added', ' FROM added')}; END IF; RETURN NULL; END $$",
            f"CREATE FUNCTION {self.table}_reindex() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" DELETE FROM {self.table} WHERE {self._entry_of('old')};"
            f" {self._insert('new', '')}; RETURN NULL; END $$",
            f"CREATE TRIGGER {self.table}_insert AFTER INSERT ON {self.source}"
            f" REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
            f" EXECUTE FUNCTION {self.table}_sync()",
            f"CREATE TRIGGER {self.table}_delete AFTER DELETE ON {self.source}"
            f" REFERENCING OLD TABLE AS removed FOR EACH STATEMENT"
            f" EXECUTE FUNCTION {self.table}_sync()",
            f"CREATE TRIGGER {self.table}_update AFTER UPDATE OF {self.changed} ON {self.source}"
            f" FOR EACH ROW EXECUTE FUNCTION {self.table}_reindex()",
            f"DROP INDEX ix_{self.source}_search",
            f"ALTER TABLE {self.source} DROP COLUMN search_vector",
        ]

    def down(self) -> list[str]:
        """Bring back the generated column and its index; drop the table and its triggers."""
        return [
            f"ALTER TABLE {self.source} ADD COLUMN search_vector tsvector"
            f" GENERATED ALWAYS AS ({self.generated}) STORED",
            f"CREATE INDEX ix_{self.source}_search ON {self.source}"
            " USING gin (user_id, search_vector)",
            *(
                f"DROP TRIGGER {self.table}_{event} ON {self.source}"
                for event in ("update", "delete", "insert")
            ),
            f"DROP FUNCTION {self.table}_reindex()",
            f"DROP FUNCTION {self.table}_sync()",
            f"DROP TABLE {self.table}",
        ]


USER_ID = ("user_id", "varchar(255)")
LEXEMES = [
    Lexemes(
        table="message_search",
        source="messages",
        copied={
            "user_id": USER_ID,
            "conversation_id": ("conversation_id", "integer"),
            "seq": ("seq", "integer"),
            "created_at": ("created_at", "timestamptz"),
        },
        key=("user_id", "conversation_id", "seq"),
        text="{row}.content",
        entered=f"{{row}}.role IN {SEARCHED_ROLES} AND {{row}}.deleted_at IS NULL",
        changed="content, role, deleted_at, created_at",
        generated=f"CASE WHEN role IN {SEARCHED_ROLES}"
        " THEN to_tsvector('english'::regconfig, content) END",
    ),
    Lexemes(
        table="task_search",
        source="tasks",
        copied={"user_id": USER_ID, "task_id": ("id", "integer")},
        key=("user_id", "task_id"),
        text="{row}.title || ' ' || coalesce({row}.description, '')",
        entered="TRUE",
        changed="title, description",
        generated="to_tsvector('english'::regconfig, title || ' ' || coalesce(description, ''))",
    ),
]


def _run(statements: Callable[[Lexemes], list[str]]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for lexemes in LEXEMES:
        for statement in statements(lexemes):
            op.execute(statement)


def upgrade() -> None:
    _run(Lexemes.up)


def downgrade() -> None:
    _run(Lexemes.down)
