"""The search and archive migration on a database that already holds data, both ways."""

import pytest
from sqlalchemy import text

from tests.conftest import BACKENDS
from todochat import migrate
from todochat.db import Database
from todochat.search.store import SearchStore

BEFORE = "2026_11_23_chat_turns"
ROWS = [
    "INSERT INTO users (id, last_task_id, last_conversation_id) VALUES ('old', 1, 2)",
    "INSERT INTO tasks (user_id, id, title) VALUES ('old', 1, 'Renew the passport')",
    "INSERT INTO conversations (user_id, id, last_seq) VALUES ('old', 1, 2), ('old', 2, 1)",
    "INSERT INTO messages (user_id, conversation_id, seq, role, content) VALUES"
    " ('old', 1, 1, 'user', 'the pipe is leaking'),"
    " ('old', 1, 2, 'tool', 'leak'),"
    " ('old', 2, 1, 'assistant', 'a plumber fixes leaks')",
]
COUNTS = "SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM conversations) * 10"
COUNTS += " + (SELECT count(*) FROM messages) * 100"


async def found(database: Database, query: str) -> list[tuple[int | None, ...]]:
    async with database.read("old") as session:
        hits = await SearchStore(session, "old").search(query)
    return [(hit.task_id, hit.conversation_id, hit.seq) for hit in hits]


async def counts(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(text(COUNTS)) or 0)


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
async def test_upgrading_indexes_what_is_there_and_downgrading_keeps_every_row(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database, BEFORE)
    database = Database(empty_database)
    try:
        async with database.engine.begin() as connection:
            for statement in ROWS:
                await connection.execute(text(statement))
        migrate.upgrade(empty_database)
        await database.dispose()  # the schema changed under the pool
        assert sorted(await found(database, "leaks")) == [(None, 1, 1), (None, 2, 1)]
        assert await found(database, "passport") == [(1, None, None)]
        assert await counts(database) == 321

        migrate.downgrade(empty_database, BEFORE)
        await database.dispose()
        assert await counts(database) == 321
        migrate.upgrade(empty_database)
        await database.dispose()
        assert sorted(await found(database, "leaking")) == [(None, 1, 1), (None, 2, 1)]
        migrate.check(empty_database)
    finally:
        await database.dispose()
