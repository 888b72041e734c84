"""Write transactions: compiled statements and the ORM in one, all or nothing, the connection
given back however they end."""

import asyncio

import pytest

from tests.conftest import committed_user
from todochat.db import Database
from todochat.tasks.models import TaskCreate, TaskUpdate
from todochat.tasks.store import TaskStore


def checked_out(database: Database) -> int:
    return database.engine.pool.checkedout()  # type: ignore[attr-defined, no-any-return]


async def titles(database: Database, user_id: str) -> list[str]:
    async with database.read(user_id) as session:
        return [task.title for task in await TaskStore(session, user_id).list()]


async def create_then_rename(database: Database, user_id: str, *, fail: bool) -> None:
    async with database.transaction(user_id) as session:
        tasks = TaskStore(session, user_id)
        created = await tasks.create(TaskCreate(title="compiled"))  # on the driver
        await tasks.update(created.id, TaskUpdate(title="renamed by the ORM"))
        if fail:
            raise RuntimeError("the block failed")


async def test_compiled_writes_and_orm_changes_commit_together(database: Database) -> None:
    user_id = await committed_user(database)
    await create_then_rename(database, user_id, fail=False)
    assert await titles(database, user_id) == ["renamed by the ORM"]
    assert checked_out(database) == 0


async def test_compiled_writes_and_orm_changes_roll_back_together(database: Database) -> None:
    user_id = await committed_user(database)
    with pytest.raises(RuntimeError, match="the block failed"):
        await create_then_rename(database, user_id, fail=True)
    assert await titles(database, user_id) == []
    assert checked_out(database) == 0


async def test_a_transaction_cancelled_midway_writes_nothing_and_gives_its_connection_back(
    database: Database,
) -> None:
    user_id = await committed_user(database)
    wrote = asyncio.Event()

    async def create_then_wait() -> None:
        async with database.transaction(user_id) as session:
            await TaskStore(session, user_id).create(TaskCreate(title="never committed"))
            wrote.set()
            await asyncio.Event().wait()

    writing = asyncio.create_task(create_then_wait())
    await wrote.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert await titles(database, user_id) == []
    assert checked_out(database) == 0


async def test_a_transaction_that_writes_nothing_commits_and_gives_its_connection_back(
    database: Database,
) -> None:
    user_id = await committed_user(database)
    async with database.transaction(user_id):
        pass
    await create_then_rename(database, user_id, fail=False)  # the pool still serves
    assert checked_out(database) == 0
