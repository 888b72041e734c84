"""What is measured: todochat's stores, the bare driver beneath them, and what people use today.

Every contender answers the same operations on the same rows. An operation a contender has no
equivalent for is absent from its table.
"""

import itertools
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import TextClause
from sqlalchemy.dialects import postgresql

from todochat.bench.dataset import SEARCH_USER, TARGET_USER, Shape
from todochat.conversations.models import MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database, driver_url, sqlite_path
from todochat.db.rls import ALL_USERS_SETTING
from todochat.search.store import STATEMENTS, SearchStore, parameters
from todochat.tasks.models import Status, TaskCreate, TaskQuery
from todochat.tasks.store import TaskStore

Operation = Callable[[], Awaitable[object]]
PAGE = 50
CONVERSATIONS_PAGE = 20
MEASURED = 1  # the measured user's 1,000-message conversation
WRITTEN = 2  # turns are appended here, so the measured history keeps its length
# What the searched user looks for, in turn: a word, its other forms, a phrase, an exclusion,
# either of two words. Each matches 0.8-4% of their 100,000 messages (see dataset.py).
SEARCHES = ("dentist", "renewing passports", '"pay bills"', "groceries -tomorrow", "laundry or gym")
SEARCH_HITS = 20
QUESTION = "Add a task to renew the passport before the trip"
ANSWER = 'Added task 10001: "Renew the passport before the trip".'


class Contender:
    """A named set of operations, and what to close when done."""

    name = ""

    def __init__(self) -> None:
        self.operations: dict[str, Operation] = {}

    async def close(self) -> None:
        """Release connections."""


class Ours(Contender):
    """todochat's stores, each operation in its own session, as a request would run it."""

    name = "todochat"

    def __init__(self, url: str, shape: Shape) -> None:
        super().__init__()
        self.database = Database(url)
        older = shape.deep_messages // 2
        self.operations = {
            "history": lambda: self._read(lambda s: MessageStore(s, TARGET_USER).latest(MEASURED)),
            "older": lambda: self._read(
                lambda s: MessageStore(s, TARGET_USER).before(MEASURED, older)
            ),
            "conversations": lambda: self._read(
                lambda s: ConversationStore(s, TARGET_USER).list(limit=CONVERSATIONS_PAGE)
            ),
            "turn": lambda: self._in(
                lambda s: MessageStore(s, TARGET_USER).append(
                    WRITTEN,
                    [
                        MessageCreate(role=Role.USER, content=QUESTION),
                        MessageCreate(role=Role.ASSISTANT, content=ANSWER),
                    ],
                )
            ),
            "tasks": lambda: self._read(
                lambda s: TaskStore(s, TARGET_USER).list(
                    TaskQuery(status=Status.PENDING, limit=PAGE)
                )
            ),
            "create_task": lambda: self._in(
                lambda s: TaskStore(s, TARGET_USER).create(TaskCreate(title="Renew"))
            ),
            "search": self._search,
        }
        self._searches = itertools.cycle(SEARCHES)

    async def _search(self) -> object:
        async with self.database.read(SEARCH_USER) as session:
            return await SearchStore(session, SEARCH_USER).search(next(self._searches), SEARCH_HITS)

    async def _in(self, work: Callable[[Any], Awaitable[object]]) -> object:
        async with self.database.transaction(TARGET_USER) as session:
            return await work(session)

    async def _read(self, work: Callable[[Any], Awaitable[object]]) -> object:
        async with self.database.read(TARGET_USER) as session:
            return await work(session)

    async def close(self) -> None:
        await self.database.dispose()


HISTORY = (
    "SELECT seq, role, content, tool_calls, tool_results, metadata, created_at, deleted_at"
    " FROM messages"
    " WHERE user_id = {p} AND conversation_id = {p} AND deleted_at IS NULL"
    " ORDER BY seq DESC LIMIT {p}"
)
OLDER = HISTORY.replace("AND deleted_at", "AND seq < {p} AND deleted_at")
CONVERSATIONS = (
    "SELECT id, title, metadata, created_at, updated_at, deleted_at, archived_at"
    " FROM conversations"
    " WHERE user_id = {p} AND deleted_at IS NULL AND archived_at IS NULL"
    " ORDER BY updated_at DESC, id DESC LIMIT {p}"
)
TASKS = (
    "SELECT id, title, description, completed, priority, tags, created_at, updated_at,"
    " completed_at FROM tasks WHERE user_id = {p} AND completed = {false}"
    " ORDER BY id LIMIT {p}"
)
NEXT_SEQ = (
    "UPDATE conversations SET last_seq = last_seq + 2, updated_at = {p}"
    " WHERE user_id = {p} AND id = {p} AND deleted_at IS NULL RETURNING last_seq"
)
INSERT_MESSAGES = (
    "INSERT INTO messages (user_id, conversation_id, seq, role, content, created_at)"
    " VALUES ({p}, {p}, {p}, 'user', {p}, {p}), ({p}, {p}, {p}, 'assistant', {p}, {p})"
)
NEXT_TASK = "UPDATE users SET last_task_id = last_task_id + 1 WHERE id = {p} RETURNING last_task_id"
INSERT_TASK = (
    "INSERT INTO tasks (user_id, id, title, completed, priority, tags, created_at, updated_at)"
    " VALUES ({p}, {p}, {p}, {false}, 'none', '[]', {p}, {p})"
)


class Write(NamedTuple):
    """A write as the floor does it: take the next number, then insert under it."""

    take: Any
    take_parameters: Callable[[datetime], tuple[Any, ...]]
    insert: Any
    insert_parameters: Callable[[datetime, int], tuple[Any, ...]]


class Floor(Contender, ABC):
    """The bare driver running the same SQL: reads as one statement, writes in one transaction."""

    backend = "postgresql"
    placeholder = "%s"
    false = "false"

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        older = shape.deep_messages // 2
        user = TARGET_USER

        def sql(template: str) -> Any:
            return template.format(p=self.placeholder, false=self.false)

        def task(now: datetime, number: int) -> tuple[Any, ...]:
            at = self.timestamp(now)
            return (user, number, "Renew", at, at)

        def messages(now: datetime, last: int) -> tuple[Any, ...]:
            at = self.timestamp(now)
            return (user, WRITTEN, last - 1, QUESTION, at, user, WRITTEN, last, ANSWER, at)

        self.operations = {
            "history": lambda: self.read(sql(HISTORY), (user, MEASURED, PAGE)),
            "older": lambda: self.read(sql(OLDER), (user, MEASURED, older, PAGE)),
            "conversations": lambda: self.read(sql(CONVERSATIONS), (user, CONVERSATIONS_PAGE + 1)),
            "turn": lambda: self.write(
                Write(
                    sql(NEXT_SEQ),
                    lambda now: (self.timestamp(now), user, WRITTEN),
                    sql(INSERT_MESSAGES),
                    messages,
                )
            ),
            "tasks": lambda: self.read(sql(TASKS), (user, PAGE)),
            "create_task": lambda: self.write(
                Write(sql(NEXT_TASK), lambda now: (user,), sql(INSERT_TASK), task)
            ),
            "search": self._search,
        }
        self._searches = itertools.cycle(SEARCHES)
        self._search_sql = self.named(STATEMENTS[self.backend])

    async def _search(self) -> object:
        query = next(self._searches)
        return await self.read(
            self._search_sql, parameters(self.backend, SEARCH_USER, query, SEARCH_HITS)
        )

    def named(self, statement: TextClause) -> str:
        """`statement` with named parameters, as the driver takes them."""
        dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
        return str(statement.compile(dialect=dialect))  # %(name)s, as psycopg takes them

    def timestamp(self, now: datetime) -> Any:
        """A timestamp as the driver binds it."""
        return now

    @abstractmethod
    async def read(self, sql: Any, parameters: Any) -> object:
        """Run one query with its parameters (a tuple or, when named, a dict); its rows."""

    @abstractmethod
    async def write(self, step: Write) -> object:
        """In one transaction: take the next number, then insert under it."""


class PostgresFloor(Floor):
    """psycopg alone, configured as todochat's connections are (no server-side prepares)."""

    name = "floor (psycopg)"

    def __init__(self, connection: psycopg.AsyncConnection[Any], shape: Shape) -> None:
        super().__init__(shape)
        self.connection = connection

    @classmethod
    async def connect(cls, url: str, shape: Shape) -> "PostgresFloor":
        """A floor on a connection of its own, which row-level security lets see every user:
        the floor is what the SQL itself costs."""
        connection = await psycopg.AsyncConnection.connect(
            driver_url(url),
            autocommit=True,
            prepare_threshold=None,
            options=f"-c {ALL_USERS_SETTING}=on",
        )
        return cls(connection, shape)

    async def read(self, sql: Any, parameters: Any) -> object:
        cursor = await self.connection.execute(sql, parameters)
        return await cursor.fetchall()

    async def write(self, step: Write) -> object:
        now = datetime.now(UTC)
        async with self.connection.transaction():
            cursor = await self.connection.execute(step.take, step.take_parameters(now))
            row = await cursor.fetchone()
            assert row is not None
            await self.connection.execute(step.insert, step.insert_parameters(now, row[0]))
        return row

    async def close(self) -> None:
        await self.connection.close()


class SqliteFloor(Floor):
    """sqlite3 alone, with the pragmas todochat sets."""

    name = "floor (sqlite3)"
    backend = "sqlite"
    placeholder = "?"
    false = "0"

    def __init__(self, url: str, shape: Shape) -> None:
        super().__init__(shape)
        self.connection = sqlite3.connect(str(sqlite_path(url)), isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            self.connection.execute(f"PRAGMA {pragma}")

    def timestamp(self, now: datetime) -> Any:
        return now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def named(self, statement: TextClause) -> str:
        return statement.text  # sqlite3 takes :name parameters as they are

    async def read(self, sql: Any, parameters: Any) -> object:
        return self.connection.execute(sql, parameters).fetchall()

    async def write(self, step: Write) -> object:
        now = datetime.now(UTC)
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            row = self.connection.execute(step.take, step.take_parameters(now)).fetchone()
            assert row is not None
            self.connection.execute(step.insert, step.insert_parameters(now, row[0]))
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return row

    async def close(self) -> None:
        self.connection.close()
