"""Retention on a database of its own: purges see every user's soft-deleted rows."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import BACKENDS, OWNER, settings
from todochat import migrate
from todochat.app import create_app
from todochat.conversations.models import (
    Conversation,
    ConversationCreate,
    Message,
    MessageCreate,
    Role,
)
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.orm import utcnow
from todochat.retention import Retention, Summary
from todochat.tasks.models import Task, TaskCreate
from todochat.tasks.store import TaskStore
from todochat.users.store import UserStore

DAY = timedelta(days=1)


@pytest.fixture
async def database(empty_database: str) -> AsyncIterator[Database]:
    migrate.upgrade(empty_database)
    database = Database(empty_database)
    yield database
    await database.dispose()


async def conversation_with(database: Database, user_id: str, messages: int) -> int:
    async with database.transaction(user_id) as session:
        await UserStore(session, user_id).ensure()
        created = await ConversationStore(session, user_id).create(ConversationCreate())
        await MessageStore(session, user_id).append(
            created.id,
            [MessageCreate(role=Role.USER, content=f"message {n}") for n in range(messages)],
        )
        await TaskStore(session, user_id).create(TaskCreate(title="kept"))
    return created.id


async def deleted(
    database: Database, user_id: str, when: datetime, number: int, *seqs: int
) -> None:
    """Soft-delete the conversation (no `seqs`) or those messages of it, as if at `when`."""
    async with database.transaction(user_id) as session:
        if seqs:
            await session.execute(
                update(Message)
                .where(
                    Message.user_id == user_id,
                    Message.conversation_id == number,
                    Message.seq.in_(seqs),
                )
                .values(deleted_at=when)
            )
        else:
            await session.execute(
                update(Conversation)
                .where(Conversation.user_id == user_id, Conversation.id == number)
                .values(deleted_at=when)
            )


Key = tuple[str | int, ...]


async def left(database: Database) -> dict[str, list[Key]]:
    """Every user's stored conversations, messages and tasks, as ("kind", numbers…)."""
    async with database.all_users() as connection:
        conversations = await connection.execute(
            select(Conversation.user_id, Conversation.id).order_by(Conversation.id)
        )
        messages = await connection.execute(
            select(Message.user_id, Message.conversation_id, Message.seq).order_by(
                Message.conversation_id, Message.seq
            )
        )
        tasks = await connection.execute(select(Task.user_id, Task.id).order_by(Task.id))
        stored: dict[str, list[Key]] = {}
        for kind, rows in (("conversation", conversations), ("message", messages), ("task", tasks)):
            for user_id, *numbers in rows:
                stored.setdefault(user_id, []).append((kind, *numbers))
        return stored


@pytest.mark.parametrize("empty_database", [*BACKENDS, OWNER], indirect=True)
async def test_a_purge_deletes_what_expired_and_nothing_younger_as_the_clock_moves_on(
    database: Database,
) -> None:
    now = utcnow()
    for user_id in ("alice", "bob"):
        for _ in range(4):
            await conversation_with(database, user_id, messages=5)
        await deleted(database, user_id, now - 45 * DAY, 1)  # long ago
        await deleted(database, user_id, now - 45 * DAY, 1, 2)  # a message of it, too
        await deleted(database, user_id, now - 10 * DAY, 2)  # recently
        await deleted(database, user_id, now - 40 * DAY, 3, 1, 4)  # messages, long ago
        await deleted(database, user_id, now - 20 * DAY, 3, 5)  # a message, recently
        await deleted(database, user_id, now, 4, 2)  # just now
    before = await left(database)
    retention = Retention(database, batch=2)

    cutoff = now - 30 * DAY
    expected = await retention.count(cutoff)
    seen: list[int] = []
    done = await retention.purge(cutoff, seen.append)
    assert done == expected == Summary(conversations=2, conversation_messages=10, messages=4)
    assert sum(seen) == done.rows
    after = await left(database)
    gone = {("conversation", 1), *(("message", 1, seq) for seq in range(1, 6))}
    gone |= {("message", 3, 1), ("message", 3, 4)}
    for user_id in ("alice", "bob"):
        assert after[user_id] == [key for key in before[user_id] if key not in gone]

    forward = now + 25 * DAY  # the clock set forward: ten-day-old deletions are 35 days old
    assert await retention.purge(forward - 30 * DAY) == Summary(2, 10, 2)
    for user_id, stored in (await left(database)).items():
        assert stored == [
            ("conversation", 3),
            ("conversation", 4),
            ("message", 3, 2),
            ("message", 3, 3),
            *(("message", 4, seq) for seq in range(1, 6)),
            *(("task", number) for number in range(1, 5)),
        ], user_id
    assert await retention.count(forward - 30 * DAY) == Summary()


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
async def test_a_restored_conversation_is_not_purged(database: Database) -> None:
    now = utcnow()
    number = await conversation_with(database, "carol", messages=3)
    await deleted(database, "carol", now - 45 * DAY, number)
    async with database.transaction("carol") as session:
        await ConversationStore(session, "carol").restore(number)
    assert await Retention(database).purge(now - 30 * DAY) == Summary()
    assert len((await left(database))["carol"]) == 1 + 3 + 1


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
async def test_serve_purges_on_its_own_when_retention_days_is_set(
    database: Database, empty_database: str
) -> None:
    number = await conversation_with(database, "dave", messages=2)
    await deleted(database, "dave", utcnow() - 45 * DAY, number)
    app = create_app(settings(empty_database, retention_days=30))
    async with app.router.lifespan_context(app):
        for _ in range(1000):
            if (await left(database))["dave"] == [("task", 1)]:
                break
            await asyncio.sleep(0.01)
    assert (await left(database))["dave"] == [("task", 1)]


def todochat(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own console entry point)
        [sys.executable, "-m", "todochat", *args],
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
async def test_todochat_purge_counts_with_dry_run_then_purges(
    database: Database, empty_database: str, tmp_path: Path
) -> None:
    number = await conversation_with(database, "erin", messages=3)
    await deleted(database, "erin", utcnow() - 45 * DAY, number)
    other = await conversation_with(database, "erin", messages=3)
    await deleted(database, "erin", utcnow() - 31 * DAY, other, 2)
    dry = todochat(empty_database, "purge", "--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(
        "Would purge 1 conversation (3 messages) and 1 deleted message, soft-deleted before"
    )
    assert len((await left(database))["erin"]) == 2 + 6 + 2
    done = todochat(empty_database, "purge", "--older-than", "30d")
    assert done.stdout.startswith("Purged 1 conversation (3 messages) and 1 deleted message")
    assert len((await left(database))["erin"]) == 1 + 2 + 2
    bad = todochat(empty_database, "purge", "--older-than", "a month")
    assert bad.returncode == 2
    assert "30d" in bad.stderr
