"""SQLite written from the event loop's thread: waits for the write lock let the loop run."""

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import committed_user, until
from todochat import migrate
from todochat.conversations.models import MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.db.sqlite import CHECKPOINT_BYTES, DRIVER, RETRY_BYTES, Checkpointer
from todochat.tasks.models import TaskCreate
from todochat.tasks.store import TaskStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A migrated SQLite file of the test's own."""
    migrate.upgrade(f"sqlite:///{tmp_path / 'todochat.db'}")
    return tmp_path / "todochat.db"


@pytest.fixture
async def database(path: Path) -> AsyncIterator[Database]:
    """The pools on the test's file."""
    database = Database(f"sqlite:///{path}")
    yield database
    await database.dispose()


@pytest.fixture
def other_process(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection of its own to the file, as another process would hold one."""
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


async def create_task(database: Database, user_id: str, title: str) -> int:
    async with database.transaction(user_id) as session:
        return (await TaskStore(session, user_id).create(TaskCreate(title=title))).id


async def titles(database: Database, user_id: str) -> list[str]:
    async with database.read(user_id) as session:
        return [task.title for task in await TaskStore(session, user_id).list()]


async def test_writers_in_one_process_take_their_turns_in_the_order_they_came(
    database: Database,
) -> None:
    user_id = await committed_user(database)
    order: list[str] = []

    async def write(name: str, hold: float = 0) -> None:
        async with database.transaction(user_id) as session:
            order.append(name)
            await TaskStore(session, user_id).create(TaskCreate(title=name))
            await asyncio.sleep(hold)

    writers = [asyncio.create_task(write("first", hold=0.2))]
    for n in range(5):
        await asyncio.sleep(0.02)  # each comes while the first still writes, after the last
        writers.append(asyncio.create_task(write(f"writer {n}")))
    await asyncio.gather(*writers)
    assert order == ["first", *(f"writer {n}" for n in range(5))]


async def test_a_write_waits_for_another_writer_while_reads_go_on(
    database: Database, other_process: sqlite3.Connection
) -> None:
    user_id = await committed_user(database)
    await create_task(database, user_id, "before")
    other_process.execute("BEGIN IMMEDIATE")
    writing = asyncio.create_task(create_task(database, user_id, "after"))
    await asyncio.sleep(0)  # the write tries the lock, finds it taken, and waits
    assert await titles(database, user_id) == ["before"]  # the loop ran meanwhile
    assert not writing.done()
    other_process.execute("COMMIT")
    assert await writing == 2
    assert await titles(database, user_id) == ["before", "after"]


async def test_a_write_lock_held_past_the_busy_wait_fails_as_sqlite_does(
    path: Path, other_process: sqlite3.Connection
) -> None:
    engine = create_async_engine(f"sqlite+{DRIVER}:///{path}", busy_wait=0.2)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM tasks"))
        other_process.execute("COMMIT")
        async with engine.begin() as connection:  # the lock free, the write goes through
            await connection.execute(text("DELETE FROM tasks"))
    finally:
        await engine.dispose()


async def test_a_transaction_that_waits_midway_holds_other_writers_back_until_it_commits(
    database: Database,
) -> None:
    user_id = await committed_user(database)
    go_on = asyncio.Event()

    async def slow() -> int:
        async with database.transaction(user_id) as session:
            task = await TaskStore(session, user_id).create(TaskCreate(title="slow"))
            await go_on.wait()
            return task.id

    holding = asyncio.create_task(slow())
    await asyncio.sleep(0)  # it has the write lock and waits
    quick = asyncio.create_task(create_task(database, user_id, "quick"))
    await asyncio.sleep(0)
    assert await titles(database, user_id) == []  # neither committed, and reads go on
    go_on.set()
    assert (await holding, await quick) == (1, 2)
    assert await titles(database, user_id) == ["slow", "quick"]


async def test_the_wal_is_checkpointed_and_cut_back_as_writes_go_on(
    database: Database, path: Path
) -> None:
    user_id = await committed_user(database)
    async with database.transaction(user_id) as session:
        await ConversationStore(session, user_id).create()
    wal = path.with_name(path.name + "-wal")
    big = MessageCreate(role=Role.USER, content="x" * 90_000)
    appended: list[int] = []
    sizes: list[int] = []

    async def append() -> None:
        async with database.transaction(user_id) as session:
            [message] = await MessageStore(session, user_id).append(1, [big])
        appended.append(message.seq)
        sizes.append(wal.stat().st_size)

    async def writer() -> None:
        while len(appended) * len(big.content) < 3 * CHECKPOINT_BYTES:
            await append()

    # Writers one after another without a pause, as under load: the WAL must still be copied
    # back and rewound once it reaches the size, not grow on past it.
    await asyncio.gather(*(writer() for _ in range(8)))
    one_write = max(after - before for before, after in itertools.pairwise(sizes))
    assert sizes.index(max(sizes)) < len(sizes) - 1  # it was rewound, and cut back
    assert max(sizes) < CHECKPOINT_BYTES + one_write
    async with database.read(user_id) as session:  # every write is there, in the file or WAL
        stored = await MessageStore(session, user_id).latest(1, 200)
    assert [message.seq for message in stored] == sorted(appended)
    assert sorted(appended) == list(range(1, len(appended) + 1))


async def test_a_write_cancelled_as_its_commit_checkpoints_lets_the_checkpoint_end_first(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await committed_user(database)
    started = threading.Event()
    events: list[str] = []

    def slow_checkpoint(_: Checkpointer, connection: sqlite3.Connection) -> None:
        started.set()
        time.sleep(0.2)  # the thread still uses the connection
        events.append("checkpointed")

    monkeypatch.setattr(Checkpointer, "due", lambda _: True)
    monkeypatch.setattr(Checkpointer, "run", slow_checkpoint)
    write = asyncio.create_task(create_task(database, user_id, "kept"))
    await until(started.is_set)
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write
    events.append("cancelled")
    assert events == ["checkpointed", "cancelled"]
    assert await titles(database, user_id) == ["kept"]  # committed before the checkpoint began


async def test_a_checkpoint_a_reader_holds_back_is_tried_again_only_as_the_wal_grows(
    database: Database, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await committed_user(database)
    async with database.transaction(user_id) as session:
        await ConversationStore(session, user_id).create()
    runs: list[int] = []
    run = Checkpointer.run

    def counted(checkpointer: Checkpointer, connection: sqlite3.Connection) -> None:
        runs.append(1)
        run(checkpointer, connection)

    monkeypatch.setattr(Checkpointer, "run", counted)
    wal = path.with_name(path.name + "-wal")
    big = MessageCreate(role=Role.USER, content="x" * 5_000)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM messages").fetchall()  # a snapshot held open
        commits = 0
        while wal.stat().st_size < CHECKPOINT_BYTES + 2 * RETRY_BYTES:
            async with database.transaction(user_id) as session:
                await MessageStore(session, user_id).append(1, [big])
            commits += 1
    finally:
        reader.close()
    past = (wal.stat().st_size - CHECKPOINT_BYTES) // RETRY_BYTES
    assert 1 <= len(runs) <= past + 1
    assert len(runs) < commits // 10  # the commits past the size did not each try again
