"""Full-text search, archived conversations, and the indexes retention purges by.

PostgreSQL: generated `search_vector` columns on `messages` and `tasks`, each under a GIN
index led by `user_id` (btree_gin), so a search touches one user's entries and the index can
be distributed with the tables. SQLite: an FTS5 index (porter stemming) over the same text,
kept in step by triggers, whose entries carry each row's key with its `user_id`.

Existing messages and tasks are indexed on upgrade. Downgrade removes the search objects and
`archived_at` (archived conversations return to the list; nothing else is lost).

Revision ID: 2026_11_24_search_archive
Revises: 2026_11_23_json_nulls
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_24_search_archive"
down_revision: str | None = "2026_11_23_json_nulls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "deleted_at IS NULL"
LISTED = "deleted_at IS NULL AND archived_at IS NULL"
ARCHIVED = "deleted_at IS NULL AND archived_at IS NOT NULL"
DELETED = "deleted_at IS NOT NULL"
SEARCHED_ROLES = "('user', 'assistant')"

POSTGRESQL_UP = [
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    f" CASE WHEN role IN {SEARCHED_ROLES} THEN to_tsvector('english'::regconfig, content) END"
    ") STORED",
    "ALTER TABLE tasks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    " to_tsvector('english'::regconfig, title || ' ' || coalesce(description, ''))"
    ") STORED",
    "CREATE INDEX ix_messages_search ON messages USING gin (user_id, search_vector)",
    "CREATE INDEX ix_tasks_search ON tasks USING gin (user_id, search_vector)",
]
# btree_gin stays installed: other objects may have come to use it.
POSTGRESQL_DOWN = [
    "DROP INDEX ix_tasks_search",
    "DROP INDEX ix_messages_search",
    "ALTER TABLE tasks DROP COLUMN search_vector",
    "ALTER TABLE messages DROP COLUMN search_vector",
]

_TASK_TEXT = "{row}.title || char(10) || coalesce({row}.description, '')"


def _kept_in_step(table: str, key: dict[str, str], text: str, when: str, changed: str) -> list[str]:
    """Triggers indexing `table`'s rows as they are added, changed and deleted.

    `key` maps each `search_entries` column to the row's column that fills it; `text` and
    `when` are SQL templates of `{row}`: what is indexed, and which rows are.
    """

    def entry(row: str) -> str:
        return " AND ".join(f"{column} = {row}.{source}" for column, source in key.items())

    forget = (
        "INSERT INTO search_index (search_index, rowid, text)"
        f" SELECT 'delete', id, {text.format(row='old')} FROM search_entries"
        f" WHERE {entry('old')};"
    )
    values = ", ".join(f"new.{source}" for source in key.values())
    return [
        f"CREATE TRIGGER search_{table}_insert AFTER INSERT ON {table}"
        f" WHEN {when.format(row='new')} BEGIN"
        f" INSERT INTO search_entries ({', '.join(key)}) VALUES ({values});"
        " INSERT INTO search_index (rowid, text)"
        f" VALUES (last_insert_rowid(), {text.format(row='new')}); END",
        f"CREATE TRIGGER search_{table}_update AFTER UPDATE OF {changed} ON {table}"
        f" WHEN {when.format(row='new')} BEGIN {forget}"
        " INSERT INTO search_index (rowid, text)"
        f" SELECT id, {text.format(row='new')} FROM search_entries WHERE {entry('new')}; END",
        f"CREATE TRIGGER search_{table}_delete AFTER DELETE ON {table}"
        f" WHEN {when.format(row='old')} BEGIN {forget}"
        f" DELETE FROM search_entries WHERE {entry('old')}; END",
    ]


SQLITE_UP = [
    # One entry per indexed row, numbered by a true INTEGER PRIMARY KEY: the FTS rowids must
    # survive VACUUM and table rebuilds, which may renumber the implicit rowids of messages.
    "CREATE TABLE search_entries ("
    " id INTEGER PRIMARY KEY,"
    " user_id VARCHAR(255) NOT NULL,"
    " conversation_id INTEGER, seq INTEGER, task_id INTEGER,"
    " CONSTRAINT uq_search_entries_message UNIQUE (user_id, conversation_id, seq),"
    " CONSTRAINT uq_search_entries_task UNIQUE (user_id, task_id))",
    "CREATE VIEW search_source (id, text) AS"
    " SELECT e.id, m.content FROM search_entries AS e JOIN messages AS m"
    " ON m.user_id = e.user_id AND m.conversation_id = e.conversation_id AND m.seq = e.seq"
    " UNION ALL"
    f" SELECT e.id, {_TASK_TEXT.format(row='t')} FROM search_entries AS e JOIN tasks AS t"
    " ON t.user_id = e.user_id AND t.id = e.task_id",
    "CREATE VIRTUAL TABLE search_index USING fts5("
    " text, content='search_source', content_rowid='id', tokenize='porter unicode61')",
    "INSERT INTO search_entries (user_id, conversation_id, seq)"
    f" SELECT user_id, conversation_id, seq FROM messages WHERE role IN {SEARCHED_ROLES}",
    "INSERT INTO search_entries (user_id, task_id) SELECT user_id, id FROM tasks",
    "INSERT INTO search_index (search_index) VALUES ('rebuild')",
    *_kept_in_step(
        "messages",
        {"user_id": "user_id", "conversation_id": "conversation_id", "seq": "seq"},
        "{row}.content",
        f"{{row}}.role IN {SEARCHED_ROLES}",
        "content",
    ),
    *_kept_in_step(
        "tasks", {"user_id": "user_id", "task_id": "id"}, _TASK_TEXT, "1", "title, description"
    ),
]
SQLITE_DOWN = [
    *(
        f"DROP TRIGGER search_{table}_{event}"
        for table in ("tasks", "messages")
        for event in ("delete", "update", "insert")
    ),
    "DROP TABLE search_index",
    "DROP VIEW search_source",
    "DROP TABLE search_entries",
]


def _recent_index(name: str, where: str) -> None:
    op.create_index(
        name,
        "conversations",
        ["user_id", "updated_at", "id"],
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def _deleted_index(table: str) -> None:
    op.create_index(
        f"ix_{table}_user_deleted",
        table,
        ["user_id", "deleted_at"],
        postgresql_where=sa.text(DELETED),
        sqlite_where=sa.text(DELETED),
    )


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_conversations_user_live_recent", table_name="conversations")
    _recent_index("ix_conversations_user_live_recent", LISTED)
    _recent_index("ix_conversations_user_archived_recent", ARCHIVED)
    _deleted_index("conversations")
    _deleted_index("messages")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_UP if postgresql else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DOWN if postgresql else SQLITE_DOWN:
        op.execute(statement)
    op.drop_index("ix_messages_user_deleted", table_name="messages")
    op.drop_index("ix_conversations_user_deleted", table_name="conversations")
    op.drop_index("ix_conversations_user_archived_recent", table_name="conversations")
    op.drop_index("ix_conversations_user_live_recent", table_name="conversations")
    _recent_index("ix_conversations_user_live_recent", LIVE)
    # In place (SQLite 3.35+ drops columns itself): copying the table, as batch mode would,
    # drops the old one, and with foreign keys on that deletes every message.
    with op.batch_alter_table("conversations", recreate="never") as batch:
        batch.drop_column("archived_at")
