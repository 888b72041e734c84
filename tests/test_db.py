"""What the database itself guarantees: cascades, ownership, numbering under concurrency, time."""

import asyncio
from datetime import UTC
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import committed_user, new_user
from todochat.conversations.models import MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database, async_url, describe, driver_url, sqlite_path
from todochat.migrate import upgrade
from todochat.tasks.models import TaskCreate
from todochat.tasks.store import TaskStore
from todochat.users.store import UserStore

COUNT_ROWS = """
SELECT (SELECT count(*) FROM tasks WHERE user_id = :u),
       (SELECT count(*) FROM conversations WHERE user_id = :u),
       (SELECT count(*) FROM messages WHERE user_id = :u)
"""


async def user_with_data(session: AsyncSession) -> str:
    user_id = await new_user(session)
    await TaskStore(session, user_id).create(TaskCreate(title="t"))
    for _ in range(2):
        conversation = await ConversationStore(session, user_id).create()
        await MessageStore(session, user_id).append(
            conversation.id, [MessageCreate(role=Role.USER, content="m")] * 3
        )
    return user_id


async def test_deleting_a_user_in_sql_removes_everything_they_own(session: AsyncSession) -> None:
    user_id = await user_with_data(session)
    bystander = await user_with_data(session)
    assert tuple((await session.execute(text(COUNT_ROWS), {"u": user_id})).one()) == (1, 2, 6)
    await session.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
    assert tuple((await session.execute(text(COUNT_ROWS), {"u": user_id})).one()) == (0, 0, 0)
    assert tuple((await session.execute(text(COUNT_ROWS), {"u": bystander})).one()) == (1, 2, 6)


async def test_deleting_a_conversation_in_sql_removes_its_messages(session: AsyncSession) -> None:
    user_id = await user_with_data(session)
    await session.execute(
        text("DELETE FROM conversations WHERE user_id = :u AND id = 1"), {"u": user_id}
    )
    assert tuple((await session.execute(text(COUNT_ROWS), {"u": user_id})).one()) == (1, 1, 3)


async def test_the_user_store_deletes_a_user_and_the_database_cascades(
    session: AsyncSession,
) -> None:
    user_id = await user_with_data(session)
    await UserStore(session, user_id).delete()
    assert tuple((await session.execute(text(COUNT_ROWS), {"u": user_id})).one()) == (0, 0, 0)


async def test_a_message_in_another_users_conversation_is_refused_by_the_database(
    session: AsyncSession,
) -> None:
    alice = await user_with_data(session)
    mallory = await new_user(session, "mallory")
    with pytest.raises(IntegrityError, match=r"fk_messages_user_id_conversations|FOREIGN KEY"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO messages (user_id, conversation_id, seq, role, content)"
                    " VALUES (:mallory, 1, 99, 'user', 'sneaky')"
                ),
                {"mallory": mallory},
            )
    assert tuple((await session.execute(text(COUNT_ROWS), {"u": alice})).one()) == (1, 2, 6)


async def test_timestamps_come_back_timezone_aware_utc(session: AsyncSession) -> None:
    user_id = await user_with_data(session)
    await TaskStore(session, user_id).complete(1)
    session.expunge_all()
    task = await TaskStore(session, user_id).get(1)
    conversation = await ConversationStore(session, user_id).get(1)
    [message] = await MessageStore(session, user_id).latest(1, limit=1)
    user = await UserStore(session, user_id).get()
    stamps = [
        task.created_at,
        task.updated_at,
        task.completed_at,
        conversation.created_at,
        conversation.updated_at,
        message.created_at,
        user.created_at,
    ]
    assert all(stamp is not None and stamp.tzinfo is UTC for stamp in stamps)


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
async def test_postgresql_sessions_run_in_utc_whatever_the_server_is_set_to(
    empty_database: str,
) -> None:
    name = make_url(empty_database).database
    with psycopg.connect(driver_url(empty_database), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET TimeZone = 'Asia/Kathmandu'")
    upgrade(empty_database)
    database = Database(empty_database)
    try:
        user_id = await committed_user(database)
        async with database.transaction(user_id) as session:
            zone = await session.scalar(text("SHOW TimeZone"))
            created = await TaskStore(session, user_id).create(TaskCreate(title="t"))
        async with database.read(user_id) as session:
            [listed] = await TaskStore(session, user_id).list()
        async with database.reading_engine.connect() as connection:
            reading_zone = await connection.scalar(text("SHOW TimeZone"))
    finally:
        await database.dispose()
    assert (zone, reading_zone) == ("UTC", "UTC")
    assert listed.created_at == created.created_at
    assert listed.created_at.tzinfo is UTC


async def test_raw_inserts_get_counters_and_timestamps_from_defaults(
    session: AsyncSession,
) -> None:
    await new_user(session)
    await session.execute(text("INSERT INTO users (id) VALUES ('raw-user')"))
    row = (
        await session.execute(
            text(
                "SELECT last_task_id, last_conversation_id, created_at"
                " FROM users WHERE id = 'raw-user'"
            )
        )
    ).one()
    assert (row[0], row[1]) == (0, 0)
    assert row[2] is not None


async def test_twenty_concurrent_task_creations_get_numbers_one_to_twenty(
    database: Database,
) -> None:
    user_id = await committed_user(database)

    async def create(n: int) -> int:
        async with database.transaction(user_id) as session:
            return (await TaskStore(session, user_id).create(TaskCreate(title=f"task {n}"))).id

    numbers = await asyncio.gather(*(create(n) for n in range(20)))
    assert sorted(numbers) == list(range(1, 21))
    async with database.transaction(user_id) as session:
        titles = {task.title for task in await TaskStore(session, user_id).list()}
    assert titles == {f"task {n}" for n in range(20)}


async def test_twenty_concurrent_appends_get_seq_one_to_twenty(database: Database) -> None:
    user_id = await committed_user(database)
    async with database.transaction(user_id) as session:
        await ConversationStore(session, user_id).create()

    async def append(n: int) -> int:
        async with database.transaction(user_id) as session:
            [message] = await MessageStore(session, user_id).append(
                1, [MessageCreate(role=Role.USER, content=f"message {n}")]
            )
            return message.seq

    seqs = await asyncio.gather(*(append(n) for n in range(20)))
    assert sorted(seqs) == list(range(1, 21))
    async with database.transaction(user_id) as session:
        history = await MessageStore(session, user_id).latest(1, limit=50)
    assert [m.seq for m in history] == list(range(1, 21))
    assert {m.content for m in history} == {f"message {n}" for n in range(20)}


async def test_a_failed_transaction_leaves_no_gap_in_the_numbers(database: Database) -> None:
    user_id = await committed_user(database)

    async def create_then_fail() -> None:
        async with database.transaction(user_id) as session:
            await TaskStore(session, user_id).create(TaskCreate(title="rolled back"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await create_then_fail()
    async with database.transaction(user_id) as session:
        assert (await TaskStore(session, user_id).create(TaskCreate(title="kept"))).id == 1


def test_urls_are_accepted_as_people_and_neon_write_them() -> None:
    neon = async_url(
        "postgresql://alex:pw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/dbname"
        "?sslmode=require&channel_binding=require"
    )
    assert neon.drivername == "postgresql+psycopg"
    assert dict(neon.query) == {"sslmode": "require", "channel_binding": "require"}
    assert async_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert async_url("sqlite:///todochat.db").drivername == "sqlite+aiosqlite"
    for bad in ("sqlite://", "sqlite:///:memory:", "mysql://u@h/db"):
        with pytest.raises(ValueError, match="DATABASE_URL"):
            async_url(bad)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///todochat.db",
        "sqlite:////tmp/data/todo%20chat.db?mode=rwc",
        "sqlite+aiosqlite:///relative/dir/x.db",
        "postgresql://alex:p%40ss:w@ep-cool.neon.tech:5432/db?sslmode=require&channel_binding=require",
        "postgres://u@h/db",
        "postgresql+psycopg://u:pw@[::1]/db",
    ],
)
def test_urls_read_without_sqlalchemy_agree_with_it(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert sqlite_path(url) == Path(parsed.database or "").resolve()
        assert describe(url) == driver_url(url) == str(sqlite_path(url))
        return
    assert sqlite_path(url) is None
    assert make_url(driver_url(url)) == parsed.set(drivername="postgresql")
    assert make_url(describe(url)) == make_url(parsed.render_as_string(hide_password=True))


async def test_a_read_session_sees_committed_data_and_refuses_to_write(
    database: Database,
) -> None:
    user_id = await committed_user(database)
    async with database.transaction(user_id) as session:
        await TaskStore(session, user_id).create(TaskCreate(title="written"))
    async with database.read(user_id) as session:
        assert [task.title for task in await TaskStore(session, user_id).list()] == ["written"]
        with pytest.raises(RuntimeError, match="read session cannot write"):
            await TaskStore(session, user_id).create(TaskCreate(title="sneaked in"))
        with pytest.raises(RuntimeError, match="read session cannot write"):
            await MessageStore(session, user_id).append(
                1, [MessageCreate(role=Role.USER, content="nope")]
            )
    async with database.read(user_id) as session:
        assert len(await TaskStore(session, user_id).list()) == 1
