"""Statements compiled once and run on the driver: the same rows, errors and logs as SQLAlchemy."""

import logging
import uuid

import psycopg
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import committed_user, new_user
from todochat.conversations.models import Conversation, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import CompiledWrite, Database, driver_url
from todochat.db.writes import ROWS_PER_INSERT
from todochat.errors import DatabaseUnavailable
from todochat.orm import table
from todochat.tasks.models import Task, TaskCreate
from todochat.tasks.store import TaskStore
from todochat.users.store import UserStore


async def test_a_compiled_write_follows_the_changes_the_session_has_yet_to_flush(
    session: AsyncSession,
) -> None:
    user_id = await new_user(session)
    session.add(Conversation(user_id=user_id, id=7))
    [message] = await MessageStore(session, user_id).append(
        7, [MessageCreate(role=Role.USER, content="into a conversation not yet flushed")]
    )
    assert message.seq == 1


async def test_a_compiled_insert_must_give_the_columns_that_have_defaults(
    database: Database,
) -> None:
    partial = CompiledWrite(insert(table(Task)), columns=("user_id", "id", "title"))
    with pytest.raises(ValueError, match="give every column a value"):
        partial.compiled(database.engine.dialect)


async def test_compiled_writes_and_reads_are_logged_when_the_engine_echoes(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(database_url, echo=True)
    try:
        user_id = f"echo-{uuid.uuid4().hex}"
        async with database.transaction(user_id) as session:
            await UserStore(session, user_id).ensure()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            async with database.transaction(user_id) as session:
                await TaskStore(session, user_id).create(TaskCreate(title="logged"))
            async with database.read(user_id) as session:
                listed = await TaskStore(session, user_id).list()
        assert [task.title for task in listed] == ["logged"]
        logged = [record.getMessage() for record in caplog.records]
        assert any("INSERT INTO tasks" in line and "'logged'" in line for line in logged)
        assert any("FROM tasks" in line and "[compiled read]" in line for line in logged)
    finally:
        await database.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_lost_midway_fails_the_write_and_leaves_the_pool(
    database: Database, database_url: str
) -> None:
    user_id = await committed_user(database)

    async def create_on_a_connection_lost_midway() -> None:
        async with database.transaction(user_id) as session:
            backend = await session.scalar(text("SELECT pg_backend_pid()"))
            with psycopg.connect(driver_url(database_url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            await TaskStore(session, user_id).create(TaskCreate(title="lost"))

    with pytest.raises(DatabaseUnavailable) as lost:
        await create_on_a_connection_lost_midway()
    assert isinstance(lost.value.__cause__, DBAPIError)
    assert lost.value.__cause__.connection_invalidated
    async with database.transaction(user_id) as session:  # a live connection, not that one
        assert (await TaskStore(session, user_id).create(TaskCreate(title="kept"))).id == 1
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_many_rows_are_inserted_in_statements_of_a_few_rows_each(
    session: AsyncSession,
) -> None:
    user_id = await new_user(session)
    await ConversationStore(session, user_id).create()
    many = [
        MessageCreate(role=Role.USER, content=f"message {n}", metadata={"n": n} if n % 2 else None)
        for n in range(2 * ROWS_PER_INSERT + 3)
    ]
    appended = await MessageStore(session, user_id).append(1, many)
    stored = await MessageStore(session, user_id).latest(1, limit=200)
    assert stored == appended
    assert [(m.seq, m.content, m.meta) for m in stored] == [
        (n + 1, f"message {n}", {"n": n} if n % 2 else None) for n in range(len(many))
    ]
