"""Bulk loading of the benchmark dataset: COPY on PostgreSQL, batched inserts on SQLite."""

import asyncio
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol

import psycopg
from psycopg import sql
from rich.progress import Progress
from sqlalchemy import text

from todochat import migrate
from todochat.bench.dataset import (
    EPOCH,
    SEARCH_USER,
    TARGET_USER,
    Shape,
    Texts,
    background_user,
    messages,
)
from todochat.db import Database, driver_url, sqlite_path
from todochat.errors import TodochatError

COLUMNS = {
    "users": ("id", "created_at", "updated_at", "last_task_id", "last_conversation_id"),
    "tasks": (
        "user_id", "id", "title", "completed", "priority", "tags",
        "created_at", "updated_at", "completed_at",
    ),
    "conversations": ("user_id", "id", "title", "created_at", "updated_at", "last_seq"),
    "messages": (
        "user_id", "conversation_id", "seq", "role", "content",
        "tool_calls", "tool_results", "created_at",
    ),
    # The anchors' own tables (the Agents SDK's SQLAlchemySession, LangChain's history).
    "agent_sessions": ("session_id",),
    "agent_messages": ("session_id", "message_data", "created_at"),
    "message_store": ("session_id", "message"),
}  # fmt: skip
PRIORITIES = ("none", "low", "medium", "high")
BATCH = 10_000


class Sink(Protocol):
    """Where rows go."""

    def write(self, table: str, rows: Iterable[Sequence[Any]]) -> None:
        """Load rows (in COLUMNS[table] order) into `table`."""


class _Postgres:
    def __init__(self, connection: psycopg.Connection[Any], progress: Progress) -> None:
        self.connection = connection
        self.progress = progress

    def write(self, table: str, rows: Iterable[Sequence[Any]]) -> None:
        columns = ", ".join(COLUMNS[table])
        bar = self.progress.add_task(table, total=None)
        statement = f"COPY {table} ({columns}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for n, row in enumerate(rows, 1):
                copy.write_row(row)
                if n % BATCH == 0:
                    self.progress.update(bar, completed=n)
        self.progress.remove_task(bar)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class _Sqlite:
    def __init__(self, connection: sqlite3.Connection, progress: Progress) -> None:
        self.connection = connection
        self.progress = progress

    def write(self, table: str, rows: Iterable[Sequence[Any]]) -> None:
        columns = COLUMNS[table]
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        )
        bar = self.progress.add_task(table, total=None)
        iterator = iter(rows)
        done = 0
        while batch := list(islice(iterator, BATCH)):
            self.connection.executemany(statement, [tuple(map(_sqlite_value, r)) for r in batch])
            done += len(batch)
            self.progress.update(bar, completed=done)
        self.progress.remove_task(bar)


@contextmanager
def sink(url: str, progress: Progress) -> Iterator[Sink]:
    """A sink into the database at `url`, committed when the block ends."""
    path = sqlite_path(url)
    if path is not None:
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA foreign_keys = ON")
            yield _Sqlite(connection, progress)
        return
    with psycopg.connect(driver_url(url)) as connection:
        forced = _lift_row_security(connection)
        yield _Postgres(connection, progress)
        for table in forced:
            connection.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(table))


def _lift_row_security(connection: psycopg.Connection[Any]) -> list[sql.Identifier]:
    """Lift FORCE ROW LEVEL SECURITY, for this transaction only, from the tables it binds this
    role to (COPY refuses them): the tables' owner may, and is then bound by no policy. The
    transaction restores it before it commits, so no one else ever sees the tables without."""
    rows = connection.execute(
        "SELECT relname FROM pg_class"
        " WHERE relname = ANY(%s) AND relkind = 'r' AND row_security_active(oid)",
        (list(COLUMNS),),
    ).fetchall()
    forced = [sql.Identifier(name) for (name,) in rows]
    for table in forced:
        connection.execute(sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(table))
    return forced


def _user(user_id: str, tasks: int, conversations: int) -> tuple[Any, ...]:
    return user_id, EPOCH, EPOCH, tasks, conversations


def _tasks(texts: Texts, user_id: str, count: int) -> Iterator[tuple[Any, ...]]:
    for n in range(1, count + 1):
        at = EPOCH + timedelta(minutes=n)
        done = n % 3 == 0
        title = texts.titles[n % len(texts.titles)]
        yield (
            user_id, n, title, done, PRIORITIES[n % 4], "[]", at, at, at if done else None,
        )  # fmt: skip


def _conversations(texts: Texts, user_id: str, lengths: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    for n, length in enumerate(lengths, 1):
        start = EPOCH + timedelta(hours=n)
        updated = start + timedelta(seconds=length)
        yield user_id, n, texts.titles[n % len(texts.titles)], start, updated, length


def _messages(texts: Texts, user_id: str, lengths: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    for n, length in enumerate(lengths, 1):
        yield from messages(texts, user_id, n, length, EPOCH + timedelta(hours=n))


def _load(out: Sink, texts: Texts, users: Sequence[tuple[str, int, Sequence[int]]]) -> None:
    out.write("users", (_user(u, tasks, len(lengths)) for u, tasks, lengths in users))
    out.write("tasks", (row for u, tasks, _ in users for row in _tasks(texts, u, tasks)))
    out.write(
        "conversations",
        (row for u, _, lengths in users for row in _conversations(texts, u, lengths)),
    )
    out.write("messages", (row for u, _, lengths in users for row in _messages(texts, u, lengths)))


def seed_users(
    url: str, users: Sequence[tuple[str, int, Sequence[int]]], progress: Progress
) -> None:
    """Load users, each as (id, how many tasks, the length of each of their conversations)."""
    with sink(url, progress) as out:
        _load(out, Texts(), users)


def seed_target(url: str, shape: Shape, progress: Progress) -> None:
    """Load the measured users: the one whose lists are read, the one whose history is searched."""
    users = [
        (TARGET_USER, shape.tasks, shape.target_lengths),
        (SEARCH_USER, shape.user_tasks, shape.searched_lengths),
    ]
    seed_users(url, users, progress)


def seed_background(url: str, shape: Shape, first: int, last: int, progress: Progress) -> None:
    """Load background users numbered `first` up to, not including, `last`."""
    users = [(background_user(n), shape.user_tasks, shape.user_lengths) for n in range(first, last)]
    seed_users(url, users, progress)


class NotEmpty(TodochatError):
    """The benchmark needs a database of its own."""


async def prepare(url: str) -> None:
    """Create (if need be) and migrate the benchmark database, refusing one that already holds
    users."""
    await asyncio.to_thread(migrate.create_database, url)
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    try:
        async with database.all_users() as connection:
            users = await connection.scalar(text("SELECT count(*) FROM users"))
    finally:
        await database.dispose()
    if users:
        raise NotEmpty(f"the database holds {users} users; run the benchmark on an empty one")


async def analyze(url: str) -> None:
    """Refresh the planner's statistics after a load, as autovacuum would in time."""
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await database.dispose()
