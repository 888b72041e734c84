"""Engines and transactions on SQLite (embedded default) and PostgreSQL (production, Neon)."""

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import URL, Dialect, Select, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.pool import ConnectionPoolEntry

from todochat.errors import Invalid

ACTING_USER = "todochat.user_id"
IDLE_SINCE = "todochat_idle_since"
READER = "todochat_reader"
PING_AFTER_IDLE_SECONDS = 10.0
# Neon suspends idle computes after five minutes; recycle connections well before that.
POOL_RECYCLE_SECONDS = 240
SQLITE_BUSY_TIMEOUT_MS = 30_000


def async_url(url: str) -> URL:
    """The SQLAlchemy URL for a `sqlite:///file` or `postgresql://…` URL as Neon hands it out."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("DATABASE_URL must name an SQLite file, as in sqlite:///todochat.db")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"DATABASE_URL must start with sqlite:/// or postgresql://, not {parsed.drivername}://"
    )


def driver_url(url: str) -> str:
    """`url` as the bare driver (libpq or sqlite3) takes it, for bulk tools and benchmarks."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        return str(sqlite_path(url))
    return target.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The absolute path of the SQLite file `url` names; None for PostgreSQL."""
    target = async_url(url)
    return Path(target.database or "").resolve() if target.get_backend_name() == "sqlite" else None


def describe(url: str) -> str:
    """Where `url` points, for people: the SQLite file's path, or the URL without password."""
    path = sqlite_path(url)
    return str(path) if path else make_url(url).render_as_string(hide_password=True)


def create_engine(url: str, *, echo: bool = False, reading: bool = False) -> AsyncEngine:
    """An async engine tuned for the backend that `url` names; `reading` for a read pool.

    Reads run outside an explicit transaction on PostgreSQL (each statement sees committed
    data, with no BEGIN and COMMIT round trips) and in a deferred one on SQLite.
    """
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        Path(target.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, echo=echo, json_deserializer=_json_loads)
        _configure_sqlite(engine, begin="BEGIN" if reading else "BEGIN IMMEDIATE")
        return engine
    engine = create_async_engine(
        target,
        echo=echo,
        pool_size=5,
        max_overflow=10,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # Server-side prepared statements break under a transaction-mode pooler such as Neon's.
        connect_args={"prepare_threshold": None},
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if reading else {}),
    )
    _ping_after_idle(engine)
    return engine


def _json_loads(text: str) -> Any:
    # SQLite hands JSON back as text. Most task tags are an empty list: skip the parser for it.
    return [] if text == "[]" else json.loads(text)


def _ping_after_idle(engine: AsyncEngine) -> None:
    # Pre-ping, but only a connection that sat idle: a ping on every checkout would cost a
    # round trip per request, while a connection returned moments ago is known to be alive.
    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(connection: DBAPIConnection, record: ConnectionPoolEntry, _: Any) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as error:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError("the pooled connection is dead") from error


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so that BEGIN is ours to emit.
        connection.isolation_level = None
        cursor = connection.cursor()
        for pragma in (
            "foreign_keys = ON",
            "journal_mode = WAL",
            "synchronous = NORMAL",
            f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers BEGIN IMMEDIATE, taking the write lock up front: concurrent writers queue on
        # the busy timeout instead of failing when a read would have to upgrade to a write.
        connection.exec_driver_sql(begin)


def act_for(session: AsyncSession, user_id: str) -> None:
    """Record in the session which user its work is for; stores refuse any other user."""
    if not user_id or len(user_id) > 255 or "\x00" in user_id:
        raise Invalid.field("user_id", "must be 1-255 characters without NUL")
    session.info[ACTING_USER] = user_id


def acting_user(session: AsyncSession) -> str | None:
    """The user the session's transaction acts for, if it was told."""
    user_id = session.info.get(ACTING_USER)
    return user_id if isinstance(user_id, str) else None


class ReadSession(Session):
    """A session that reads only: any insert, update, delete or flush is refused."""


def _refuse(*_: Any) -> None:
    raise RuntimeError("a read session cannot write: open a transaction")


@event.listens_for(ReadSession, "do_orm_execute")
def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _refuse()


event.listen(ReadSession, "before_flush", _refuse)


class Database:
    """A pool of connections to one database, and the sessions opened on it."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.reading_engine = create_engine(url, echo=echo, reading=True)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = async_sessionmaker(
            self.reading_engine, expire_on_commit=False, sync_session_class=ReadSession
        )
        path = sqlite_path(url)
        self._reader: Reader = (
            SqliteReader(path) if path is not None else PoolReader(self.reading_engine)
        )

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, user_id: str) -> AsyncIterator[AsyncSession]:
        """A session in one transaction acting for `user_id`: committed if the block succeeds."""
        async with self._sessions() as session, session.begin():
            act_for(session, user_id)
            yield session

    @asynccontextmanager
    async def read(self, user_id: str) -> AsyncIterator[AsyncSession]:
        """A session for reading what `user_id` owns; it refuses to write."""
        session = self._readers()
        try:
            act_for(session, user_id)
            session.info[READER] = self._reader
            yield session
        finally:
            # Only a session that took a connection has anything to give back; most reads
            # ran on the reader. Closed directly: nothing was written, so the shielded close
            # task that `async with` would create (a few event loop turns) is not needed.
            if session.in_transaction():
                await session.close()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        await self.reading_engine.dispose()
        await self._reader.close()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter order, for positional drivers (sqlite3)
    defaults: Mapping[str, Any]
    binds: Mapping[str, Callable[[Any], Any]]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns that need converting

    def arguments(self, parameters: Mapping[str, Any]) -> Any:
        """The parameters as the driver takes them, converted as SQLAlchemy would."""
        values = {**self.defaults, **parameters}
        for name, process in self.binds.items():
            values[name] = process(values[name])
        return values if self.positions is None else [values[name] for name in self.positions]

    def convert(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """The rows with their columns converted as SQLAlchemy would."""
        if not self.results:
            return list(rows)
        converted: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for index, process in self.results:
                if values[index] is not None:  # every processor maps None to None
                    values[index] = process(values[index])
            converted.append(values)
        return converted


class Query:
    """A read statement compiled once per dialect and run on the driver itself.

    On the hot read paths SQLAlchemy's execution machinery costs more than the query does
    (`todochat bench run` measures it); these statements skip it while keeping its SQL and
    its conversions of every parameter and column.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect)
            binds = {
                sql.bind_names[bind]: processor
                for bind in sql.binds.values()
                if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
                is not None
            }
            results = tuple(
                (index, processor)
                for index, column in enumerate(self.statement.selected_columns)
                if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
                is not None
            )
            positions = tuple(sql.positiontup) if sql.positiontup else None
            defaults = {
                sql.bind_names[bind]: bind.effective_value
                for bind in sql.binds.values()
                if not bind.required
            }
            compiled = _Compiled(sql.string, positions, defaults, binds, results)
            self._compiled[dialect.name] = compiled
        return compiled

    async def rows(self, session: AsyncSession, **parameters: Any) -> list[Sequence[Any]]:
        """The rows the statement selects with `parameters`, converted as SQLAlchemy would."""
        compiled = self._compile(session.get_bind().dialect)
        arguments = compiled.arguments(parameters)
        reader: Reader | None = session.info.get(READER)
        if reader is not None:
            return compiled.convert(await reader.fetch(compiled.sql, arguments))
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        cursor = await driver.execute(compiled.sql, arguments)
        return compiled.convert(await cursor.fetchall())


class Reader(Protocol):
    """Runs a read session's hot queries without a Session or Connection around them."""

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        """The rows `sql` selects."""
        ...

    async def close(self) -> None:
        """Release what the reader holds."""
        ...


class PoolReader:
    """Reads on PostgreSQL on a connection taken straight from the read pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        """The rows `sql` selects."""
        connection = await self._engine.raw_connection()
        try:
            cursor = await connection.driver_connection.execute(sql, arguments)  # type: ignore[union-attr]
            rows: Sequence[Sequence[Any]] = await cursor.fetchall()
            return rows
        finally:
            connection.close()  # back to the pool; the read pool resets nothing on return

    async def close(self) -> None:
        """Nothing to release: the engine owns the pool."""


class SqliteReader:
    """Reads from an SQLite file through sqlite3, in the event loop's own thread.

    A query on a local file takes microseconds; handing it to aiosqlite's worker thread and
    back costs many times that. Read sessions only: it sees committed data (WAL), and it
    cannot write (`query_only`).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        """The rows `sql` selects."""
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, isolation_level=None)
            self._connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            self._connection.execute("PRAGMA query_only = ON")
        return self._connection.execute(sql, arguments).fetchall()

    async def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Store:
    """Base of the per-domain stores: bound to one session and the one user it acts for."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        if acting_user(session) != user_id:
            raise ValueError(f"the session does not act for user {user_id!r}; open it with act_for")
        self.session = session
        self.user_id = user_id

    def insert(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        """An INSERT into `table` in the session's dialect, which can say ON CONFLICT."""
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
