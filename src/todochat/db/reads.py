"""The compiled read path: hot SELECTs compiled once per dialect and run on the driver itself."""

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from todochat.db.acting import acting_user
from todochat.db.compiled import CompiledStatement
from todochat.db.engine import SQLITE_BUSY_TIMEOUT_SECONDS
from todochat.db.faults import lost, once_more_if_lost, retired, sqlite_broken
from todochat.db.rls import scoped_read

log = logging.getLogger("todochat.db")
READER = "todochat_reader"


class CompiledRead(CompiledStatement):
    """A read statement compiled once per dialect and run on the driver itself.

    In a read session it runs on the session's reader, without a Session or Connection
    around it; in a transaction, on the transaction's connection.
    """

    def __init__(self, statement: Select[Any]) -> None:
        super().__init__(statement)

    async def rows(self, session: AsyncSession, **parameters: Any) -> list[Sequence[Any]]:
        """The rows the statement selects with `parameters`, converted as SQLAlchemy would."""
        reader: Reader | None = session.info.get(READER)
        if reader is None:
            return (await self.run(session, parameters)).rows
        engine = session.get_bind().engine
        compiled = self.compiled(engine.dialect)
        arguments = compiled.arguments(parameters)
        if engine.echo:
            # These statements bypass SQLAlchemy's execution events: log them as it would.
            engine.logger.info("%s\n[compiled read] %r", compiled.sql, arguments)
        rows = await reader.fetch(compiled.sql, arguments, acting_user(session))
        return compiled.convert(rows)


class Reader(Protocol):
    """Runs a read session's hot queries without a Session or Connection around them."""

    async def fetch(self, sql: str, arguments: Any, user_id: str | None) -> Sequence[Sequence[Any]]:
        """The rows `sql` selects, acting for `user_id`."""
        ...

    async def close(self) -> None:
        """Release what the reader holds."""
        ...


class PoolReader:
    """Reads on PostgreSQL on a connection taken straight from the read pool.

    A connection found dead is discarded with every older one of the pool, and the read
    runs once more on a fresh connection: the driver's errors never reach SQLAlchemy, whose
    own statements get the same treatment.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def fetch(self, sql: str, arguments: Any, user_id: str | None) -> Sequence[Sequence[Any]]:
        """The rows `sql` selects, acting for `user_id` (for no one: None)."""
        sql, arguments = scoped_read(sql, arguments, user_id or "")
        return await once_more_if_lost(lambda: self._fetch(sql, arguments))

    async def _fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        connection = await self._engine.raw_connection()
        try:
            driver: psycopg.AsyncConnection[Any] = connection.driver_connection  # type: ignore[assignment]
            cursor = await driver.execute(sql, arguments)  # a ReadCursor: one message
            rows: Sequence[Sequence[Any]] = await cursor.fetchall()
            return rows
        except psycopg.Error as error:
            if lost(connection):
                raise await retired(self._engine, connection, error) from error
            raise
        finally:
            await self._release(connection)

    async def _release(self, connection: PoolProxiedConnection) -> None:
        # Back to the pool, with no I/O: the read pool resets nothing on return. But a
        # connection beyond the pool's size is closed instead, and closing awaits the driver
        # in SQLAlchemy's greenlet (entering it costs more than a fast read: only then).
        pool = self._engine.sync_engine.pool
        if isinstance(pool, QueuePool) and pool.overflow() > 0:
            await greenlet_spawn(connection.close)
        else:
            connection.close()

    async def close(self) -> None:
        """Nothing to release: the engine owns the pool."""


class SqliteReader:
    """Reads from an SQLite file through sqlite3, in the event loop's own thread.

    A query on a local file takes microseconds; handing it to aiosqlite's worker thread and
    back costs many times that. Read sessions only: it sees committed data (WAL), and it
    cannot write (`query_only`). A connection that breaks (closed, its file unreadable) is
    replaced and the read run once more.
    """

    def __init__(self, path: Path, busy_timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None

    async def fetch(self, sql: str, arguments: Any, user_id: str | None) -> Sequence[Sequence[Any]]:
        """The rows `sql` selects (SQLite has no row-level security: `user_id` is unused)."""
        try:
            return self._connect().execute(sql, arguments).fetchall()
        except sqlite3.Error as error:
            if not sqlite_broken(error):
                raise
            log.info("the SQLite read connection broke (%s); reading once more", error)
            await self.close()
        return self._connect().execute(sql, arguments).fetchall()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, isolation_level=None)
            self._connection.execute(f"PRAGMA busy_timeout = {round(self._busy_timeout * 1000)}")
            self._connection.execute("PRAGMA query_only = ON")
        return self._connection

    async def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
