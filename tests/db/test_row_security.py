"""Row-level security on PostgreSQL, as the role that owns the database (superusers bypass it).

Each test connects as a login role that owns a database of its own, as the application does
on Neon, so the policies bind every statement.
"""

import io
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from tests.conftest import OWNER
from tests.transfer.test_transfer import exported
from todochat import migrate
from todochat.chat.idempotency import IdempotencyKeys
from todochat.conversations.models import ConversationCreate, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import CompiledRead, Database, driver_url
from todochat.orm import utcnow
from todochat.search.store import POSTGRESQL, parameters
from todochat.tasks.models import Task, TaskCreate
from todochat.tasks.store import TaskStore
from todochat.transfer.load import import_lines
from todochat.users.store import UserStore

pytestmark = pytest.mark.parametrize("empty_database", [OWNER], indirect=True)
USERS = ("alice", "bob")
# Every table of users' rows, and its column naming the user.
OWNED = {
    "users": "id",
    "tasks": "user_id",
    "conversations": "user_id",
    "messages": "user_id",
    "idempotency_keys": "user_id",
}


@pytest.fixture
async def database(empty_database: str) -> AsyncIterator[Database]:
    """The owner's migrated database, where alice and bob each have a row in every table."""
    migrate.upgrade(empty_database)
    database = Database(empty_database)
    for user_id in USERS:
        async with database.transaction(user_id) as session:
            await UserStore(session, user_id).ensure()
            await TaskStore(session, user_id).create(TaskCreate(title=f"{user_id}'s task"))
            conversation = await ConversationStore(session, user_id).create(ConversationCreate())
            await MessageStore(session, user_id).append(
                conversation.id, [MessageCreate(role=Role.USER, content="hello")]
            )
            await IdempotencyKeys(session, user_id).claim("key", "request", utcnow())
    yield database
    await database.dispose()


def everyones(table: str) -> str:
    """A query that forgot its user filter."""
    return f"SELECT DISTINCT {OWNED[table]} FROM {table}"  # noqa: S608 (our own table names)


async def test_an_unscoped_query_sees_only_the_acting_users_rows(database: Database) -> None:
    for table in OWNED:
        async with database.transaction("alice") as session:
            assert (await session.scalars(text(everyones(table)))).all() == ["alice"], table
        async with database.read("bob") as session:
            assert (await session.scalars(text(everyones(table)))).all() == ["bob"], table


async def test_an_unscoped_compiled_read_sees_only_the_acting_users_rows(
    database: Database,
) -> None:
    everyones_titles = CompiledRead(select(Task.title).order_by(Task.title))
    for user_id in USERS:
        async with database.read(user_id) as session:
            assert [tuple(row) for row in await everyones_titles.rows(session)] == [
                (f"{user_id}'s task",)
            ]


async def test_a_connection_acting_for_no_one_sees_no_ones_rows(database: Database) -> None:
    for engine in (database.engine, database.reading_engine):
        async with engine.connect() as connection:
            for table in OWNED:
                assert (await connection.scalars(text(everyones(table)))).all() == [], table


async def test_a_transaction_cannot_write_another_users_rows(database: Database) -> None:
    async with database.transaction("alice") as session:
        changed = await session.execute(text("UPDATE tasks SET title = 'mine' WHERE id = 1"))
        assert changed.rowcount == 1  # type: ignore[attr-defined]  # alice's task only
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with database.transaction("alice") as session:
            await session.execute(
                text("INSERT INTO tasks (user_id, id, title) VALUES ('bob', 2, 'planted')")
            )
    async with database.all_users() as connection:
        titles = (await connection.scalars(text("SELECT title FROM tasks ORDER BY user_id"))).all()
    assert titles == ["mine", "bob's task"]


async def test_the_acting_user_lasts_only_as_long_as_its_transaction(
    database: Database,
) -> None:
    setting = text("SELECT current_setting('todochat.user_id', true)")
    async with database.read("alice") as session:
        await session.scalar(text("SELECT 1"))  # a transaction on the read pool
    async with database.transaction("alice"):
        pass
    for engine in (database.engine, database.reading_engine):  # the same pooled connections
        async with engine.connect() as connection:
            assert await connection.scalar(setting) in ("", None)


async def test_the_cross_user_jobs_see_everyone_and_only_read(database: Database) -> None:
    async with database.all_users() as connection:
        for table in OWNED:
            found = (await connection.scalars(text(everyones(table) + " ORDER BY 1"))).all()
            assert found == list(USERS), table
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await connection.execute(text("DELETE FROM tasks"))


async def test_export_and_import_move_an_account_under_row_security(database: Database) -> None:
    imported = await import_lines(
        database, io.BytesIO(await exported(database, "alice")), as_user="carol"
    )
    assert (imported.tasks, imported.conversations, imported.messages) == (1, 1, 1)
    async with database.read("carol") as session:
        assert (await session.scalars(text("SELECT title FROM tasks"))).all() == ["alice's task"]


def plan(sql: str) -> str:
    """The EXPLAIN of `sql` as text."""
    return f"EXPLAIN (COSTS OFF) {sql}"


async def test_a_read_plans_no_subquery_for_the_policies(database: Database) -> None:
    async with database.read("alice") as session:
        steps = (await session.scalars(text(plan("SELECT title FROM tasks")))).all()
    assert not [step for step in steps if "Plan" in step]  # no InitPlan, no SubPlan


async def test_a_search_finds_its_words_by_the_lexemes_index(database: Database) -> None:
    said = [MessageCreate(role=Role.USER, content=f"note {n}") for n in range(500)]
    async with database.transaction("alice") as session:
        await MessageStore(session, "alice").append(1, said)
    async with database.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    async with database.transaction("alice") as session:
        # Small tables are read whole, faster than through any index: as if they were larger.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        found = await session.scalars(
            text(plan(POSTGRESQL)), parameters("postgresql", "alice", "hello", 20)
        )
        steps = "\n".join(found.all())
    assert "Bitmap Index Scan on ix_message_search" in steps
    assert "Index Cond: (((user_id)::text = 'alice'::text) AND (search_vector @@" in steps
    # Messages are read only for the hits found, by their key.
    assert "Index Scan using pk_messages on messages" in steps
    assert "AND (conversation_id = s.conversation_id) AND (seq = s.seq))" in steps
    assert "Seq Scan" not in steps


async def test_a_search_that_forgets_its_user_finds_only_the_acting_users_rows(
    database: Database,
) -> None:
    unscoped = POSTGRESQL.replace("s.user_id = :user_id AND ", "")
    assert unscoped.count("s.search_vector @@") == 2  # both lexeme tables' filters are gone
    async with database.read("alice") as session:
        lexemes = await session.scalar(text("SELECT count(*) FROM message_search"))
        assert lexemes == len(USERS)  # the policies do not bind the lexemes
        for words in ("hello", "task"):  # alice's message and task, and bob's
            arguments = parameters("postgresql", "alice", words, 20)
            scoped = [tuple(row) for row in await session.execute(text(POSTGRESQL), arguments)]
            found = [tuple(row) for row in await session.execute(text(unscoped), arguments)]
            assert found == scoped, words
            assert len(found) == 1, words


def test_the_policies_come_and_go_with_their_migration(empty_database: str) -> None:
    migrate.upgrade(empty_database, "2026_11_24_keys")
    assert secured(empty_database) == {}
    migrate.upgrade(empty_database)
    assert secured(empty_database) == dict.fromkeys(OWNED, True)
    migrate.check(empty_database)  # the models and the migrations still agree
    migrate.downgrade(empty_database, "2026_11_24_keys")
    assert secured(empty_database) == {}


def secured(url: str) -> dict[str, bool]:
    """The tables under row-level security, and whether it binds their owner too."""
    with psycopg.connect(driver_url(url)) as connection:
        rows = connection.execute(
            "SELECT relname, relforcerowsecurity FROM pg_class"
            " WHERE relkind = 'r' AND relrowsecurity ORDER BY relname"
        ).fetchall()
    return dict(rows)
