"""The compiled read path: hot SELECTs compiled once per dialect and run on the driver itself."""

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from todochat.db.compiled import CompiledStatement
from todochat.db.engine import SQLITE_BUSY_TIMEOUT_MS

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
        return compiled.convert(await reader.fetch(compiled.sql, arguments))


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
