"""Hot statements compiled once per dialect and run on the driver itself.

On the hot paths SQLAlchemy's execution machinery costs more than the statement does
(`todochat bench run` measures it). A compiled statement skips it while keeping its SQL, its
conversions of every parameter and column, its exception classes and its log.
"""

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Dialect, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.dml import UpdateBase

Statement = Select[Any] | UpdateBase
_HELD = "todochat_connection"


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL for one dialect, and how to convert what goes in and comes out."""

    sql: str
    positions: tuple[str, ...] | None  # parameter order, for positional drivers (sqlite3)
    defaults: Mapping[str, Any]
    binds: Mapping[str, Callable[[Any], Any]]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns that need converting

    @classmethod
    def of(
        cls, statement: Statement, dialect: Dialect, columns: Sequence[str] | None = None
    ) -> "Compiled":
        """`statement` compiled for `dialect`; an INSERT of `columns`, each bound by its name."""
        sql = statement.compile(dialect=dialect, column_keys=columns)
        # Defaults computed at execution (a column's Python default or onupdate) would be
        # skipped here: a compiled statement must give every value itself.
        if sql.insert_prefetch or sql.update_prefetch:
            raise ValueError(f"give every column a value, defaults included: {sql.string}")
        binds = {
            sql.bind_names[bind]: processor
            for bind in sql.binds.values()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        results = tuple(
            (index, processor)
            for index, column in enumerate(statement.exported_columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        )
        positions = tuple(sql.positiontup) if sql.positiontup else None
        defaults = {
            sql.bind_names[bind]: bind.effective_value
            for bind in sql.binds.values()
            if not bind.required
        }
        return cls(sql.string, positions, defaults, binds, results)

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


class Outcome(NamedTuple):
    """What the driver answered: the rows (converted), and how many rows were changed."""

    rows: list[Sequence[Any]]
    rowcount: int


class CompiledStatement:
    """A statement compiled once per dialect, run on the driver in a session's transaction."""

    def __init__(self, statement: Statement, *, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = columns
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement compiled for `dialect`, once."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = Compiled.of(self.statement, dialect, self.columns)
            self._compiled[dialect.name] = compiled
        return compiled

    async def run(self, session: AsyncSession, parameters: Mapping[str, Any]) -> Outcome:
        """Run the statement with `parameters`, on the connection of the session's transaction."""
        connection, pooled = await transaction_connection(session)
        dialect = connection.dialect
        compiled = self.compiled(dialect)
        arguments = compiled.arguments(parameters)
        engine = connection.sync_engine
        if engine.echo:
            # These statements bypass SQLAlchemy's execution events: log them as it would.
            engine.logger.info("%s\n[compiled] %r", compiled.sql, arguments)
        driver = pooled.driver_connection
        assert driver is not None  # the connection is open: the transaction holds it
        try:
            if isinstance(driver, sqlite3.Connection):
                cursor = driver.execute(compiled.sql, arguments)
                rows = cursor.fetchall() if cursor.description else []
            else:
                async with driver.cursor() as cursor:
                    await cursor.execute(compiled.sql, arguments)
                    rows = await cursor.fetchall() if cursor.description else []
        except dialect.loaded_dbapi.Error as error:
            # As SQLAlchemy raises it; the rollback that follows discards a lost connection.
            raise DBAPIError.instance(
                compiled.sql,
                arguments,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=dialect.is_disconnect(error, pooled.dbapi_connection, None),
                dialect=dialect,
            ) from error
        return Outcome(compiled.convert(rows), cursor.rowcount)


async def transaction_connection(
    session: AsyncSession,
) -> tuple[AsyncConnection, PoolProxiedConnection]:
    """The connection of the session's transaction (begun if need be), and its pooled one."""
    # Asking the session costs a hop into a greenlet per statement; a transaction keeps its
    # connection until it ends. A savepoint is the session's to begin (on the first statement
    # in it), so it is asked again for each.
    held = session.info.get(_HELD)
    if held is not None and held[0] is _innermost(session):
        return held[1], held[2]
    connection = await session.connection()
    # Connected and begun: the pooled connection is at hand, with no hop into a greenlet.
    assert connection.sync_connection is not None
    pooled = connection.sync_connection.connection
    hold(session, connection, pooled)
    return connection, pooled


def hold(session: AsyncSession, connection: AsyncConnection, pooled: PoolProxiedConnection) -> None:
    """Keep the connection of the transaction `session` is in (or is yet to begin on it) for
    its compiled statements."""
    session.info[_HELD] = (_innermost(session), connection, pooled)


def _innermost(session: AsyncSession) -> SessionTransaction | None:
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()
