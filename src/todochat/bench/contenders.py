"""What is measured: todochat's stores, the bare driver beneath them, and what people use today.

Every contender answers the same operations on the same rows. An operation a contender has no
equivalent for is absent from its table.
"""

import itertools
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Dialect, TextClause
from sqlalchemy.dialects import postgresql, sqlite

from todochat.bench import statements
from todochat.bench.dataset import SEARCH_USER, TARGET_USER, Shape
from todochat.bench.web_floor import Statement, parse_json_with_orjson
from todochat.conversations.models import MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database, driver_url, sqlite_path
from todochat.db.rls import ALL_USERS_SETTING
from todochat.db.writes import numbered
from todochat.search.store import STATEMENTS, SearchStore, parameters
from todochat.tasks.models import Status, TaskCreate, TaskQuery
from todochat.tasks.store import TaskStore

Operation = Callable[[], Awaitable[object]]
PAGE = statements.PAGE
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


class Write(NamedTuple):
    """A write as todochat's store does it: take the next number(s), then insert under them."""

    take: Statement
    take_values: Callable[[Any], dict[str, Any]]  # given the time
    insert: Statement | None  # None: `take` inserts too, as on PostgreSQL
    values: Callable[[Any, int], dict[str, Any]]  # given the time and the number taken


class Floor(Contender, ABC):
    """The bare driver running todochat's own SQL, compiled from its stores' statements: reads
    as one statement, writes in one transaction."""

    def __init__(self, dialect: Dialect, shape: Shape) -> None:
        super().__init__()
        read = statements.reads(dialect)
        turn_write, task_write = (
            (statements.take_seq(dialect), statements.insert_messages(dialect, 2)),
            (statements.next_task(dialect), statements.insert_task(dialect)),
        )
        user = TARGET_USER
        older = shape.deep_messages // 2

        def task(now: Any, number: int) -> dict[str, Any]:
            values = dict.fromkeys(statements.TASK_COLUMNS)
            values.update(user_id=user, id=number, title="Renew", completed=False)
            values.update(priority="none", tags=self.json([]), created_at=now, updated_at=now)
            return values

        def turn(now: Any, last: int) -> dict[str, Any]:
            rows = []
            for seq, role, content in ((last - 1, "user", QUESTION), (last, "assistant", ANSWER)):
                values = dict.fromkeys(statements.MESSAGE_COLUMNS)
                values.update(user_id=user, conversation_id=WRITTEN, seq=seq, role=role)
                values.update(content=content, created_at=now)
                rows.append(values)
            return numbered(rows)

        # As TaskStore.create: on PostgreSQL the number is taken in the INSERT itself.
        create_task = (
            Write(statements.create_task(dialect), lambda now: task(now, 0), None, task)
            if dialect.name == "postgresql"
            else Write(task_write[0], lambda _: {"user_id": user}, task_write[1], task)
        )
        base = {"user_id": user, "limit": PAGE}
        self.operations = {
            "history": lambda: self.read(read["history"], {**base, "conversation_id": MEASURED}),
            "older": lambda: self.read(
                read["older"], {**base, "conversation_id": MEASURED, "before": older}
            ),
            "conversations": lambda: self.read(
                read["conversations"], {"user_id": user, "limit": CONVERSATIONS_PAGE + 1}
            ),
            "turn": lambda: self.write(
                Write(
                    turn_write[0],
                    lambda now: {"owner": user, "number": WRITTEN, "count": 2, "now": now},
                    turn_write[1],
                    turn,
                )
            ),
            "tasks": lambda: self.read(read["tasks"], base),
            "create_task": lambda: self.write(create_task),
            "search": self._search,
        }
        self._searches = itertools.cycle(SEARCHES)
        self._search_sql = self.named(STATEMENTS[dialect.name])

    async def _search(self) -> object:
        query = next(self._searches)
        return await self.run(
            self._search_sql, parameters(self.backend, SEARCH_USER, query, SEARCH_HITS)
        )

    @property
    def backend(self) -> str:
        """`postgresql` or `sqlite`."""
        return "sqlite" if isinstance(self, SqliteFloor) else "postgresql"

    def named(self, statement: TextClause) -> str:
        """`statement` with named parameters, as the driver takes them."""
        dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
        return str(statement.compile(dialect=dialect))  # %(name)s, as psycopg takes them

    def read(self, statement: Statement, values: dict[str, Any]) -> Awaitable[object]:
        """Run one of todochat's reads with `values`; its rows."""
        return self.run(statement.sql, statement.arguments(values))

    def timestamp(self, now: datetime) -> Any:
        """A timestamp as the driver binds it."""
        return now

    def json(self, value: Any) -> Any:
        """A JSON value as the driver binds it."""
        return Jsonb(value)

    @abstractmethod
    async def run(self, sql: str, arguments: Any) -> list[Any]:
        """Run one query; its rows."""

    @abstractmethod
    async def write(self, step: Write) -> object:
        """In one transaction: take the next number, then insert under it."""


class PostgresFloor(Floor):
    """psycopg alone, configured as todochat's connections are (no server-side prepares)."""

    name = "floor (psycopg)"

    def __init__(self, connection: psycopg.AsyncConnection[Any], shape: Shape) -> None:
        super().__init__(postgresql.psycopg.dialect(), shape)  # type: ignore[no-untyped-call]
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
        await parse_json_with_orjson(connection)
        return cls(connection, shape)

    async def run(self, sql: str, arguments: Any) -> list[Any]:
        cursor = await self.connection.execute(sql, arguments)
        return await cursor.fetchall()

    async def write(self, step: Write) -> object:
        now = datetime.now(UTC)
        async with self.connection.transaction():
            cursor = await self.connection.execute(
                step.take.sql, step.take.arguments(step.take_values(now))
            )
            row = await cursor.fetchone()
            assert row is not None
            if step.insert is not None:
                await self.connection.execute(
                    step.insert.sql, step.insert.arguments(step.values(now, row[0]))
                )
        return row

    async def close(self) -> None:
        await self.connection.close()


class SqliteFloor(Floor):
    """sqlite3 alone, with the pragmas todochat sets."""

    name = "floor (sqlite3)"

    def __init__(self, url: str, shape: Shape) -> None:
        super().__init__(sqlite.aiosqlite.dialect(), shape)
        self.connection = sqlite3.connect(str(sqlite_path(url)), isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            self.connection.execute(f"PRAGMA {pragma}")

    def timestamp(self, now: datetime) -> Any:
        return now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def json(self, value: Any) -> Any:
        return json.dumps(value)

    def named(self, statement: TextClause) -> str:
        return statement.text  # sqlite3 takes :name parameters as they are

    async def run(self, sql: str, arguments: Any) -> list[Any]:
        return self.connection.execute(sql, arguments).fetchall()

    async def write(self, step: Write) -> object:
        now = self.timestamp(datetime.now(UTC))
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            row = self.connection.execute(
                step.take.sql, step.take.arguments(step.take_values(now))
            ).fetchone()
            assert row is not None
            assert step.insert is not None  # SQLite takes the number on its own
            self.connection.execute(
                step.insert.sql, step.insert.arguments(step.values(now, row[0]))
            )
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return row

    async def close(self) -> None:
        self.connection.close()
