"""Engines tuned per backend: pool sizes and timeouts, pre-ping after idle, SQLite's pragmas,
and the BEGIN each transaction starts with."""

import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import URL, Connection, Engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import await_, greenlet_spawn

from todochat.db import sqlite
from todochat.db.faults import lost
from todochat.db.pool import FairPool
from todochat.db.rls import (
    ALL_USERS_OPTION,
    USER_OPTION,
    ReadCursor,
    begin_statement,
    quoter,
    scoped_read,
)
from todochat.db.urls import backend

IDLE_SINCE = "todochat_idle_since"
PING_AFTER_IDLE_SECONDS = 10.0
# Neon suspends idle computes after five minutes; recycle connections well before that.
POOL_RECYCLE_SECONDS = 240
POOL_SIZE = 15  # connections per pool, each opened on first need
# A request waits this long for a pooled connection, and a new connection this long for the
# server, before it is answered 503: well within any client's patience.
POOL_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 3
# How long a write waits for SQLite's write lock (held by another process, say) before 503.
SQLITE_BUSY_TIMEOUT_SECONDS = 5.0


def async_url(url: str) -> URL:
    """The SQLAlchemy URL for a `sqlite:///file` or `postgresql://…` URL as Neon hands it out."""
    driver = "sqlite+aiosqlite" if backend(url) == "sqlite" else "postgresql+psycopg"
    return make_url(url).set(drivername=driver)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    reading: bool = False,
    busy_timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """An async engine tuned for the backend that `url` names; `reading` for a read pool.

    Reads run outside an explicit transaction on PostgreSQL (each statement sees committed
    data, with no BEGIN and COMMIT round trips) unless they act for a user through the ORM,
    and in a deferred one on SQLite. `busy_timeout` (seconds) bounds SQLite's lock waits.
    """
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        Path(target.database or "").parent.mkdir(parents=True, exist_ok=True)
        if reading:
            engine = create_async_engine(
                target, echo=echo, json_deserializer=_json_loads, poolclass=FairPool
            )
            _configure_sqlite(engine, f"busy_timeout = {round(busy_timeout * 1000)}")
            _begin_with(engine, "BEGIN")
            return engine
        # Writes run in the event loop's thread, BEGIN IMMEDIATE waiting without blocking it.
        # On one connection: SQLite lets one transaction write at a time, so the process's
        # writers wait for that connection in the order they came. With one each, they all
        # retried BEGIN IMMEDIATE, and under load some lost again and again (measured with
        # 64 clients creating tasks: a p99 of 0.5 s, and a 503 once the wait ran out).
        engine = create_async_engine(
            target.set(drivername=f"sqlite+{sqlite.DRIVER}"),
            echo=echo,
            json_deserializer=_json_loads,
            busy_wait=busy_timeout,
            poolclass=FairPool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=busy_timeout,
        )
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {
        # Server-side prepared statements break under a transaction-mode pooler such as Neon's.
        "prepare_threshold": None,
    }
    if "connect_timeout" not in target.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if reading:
        connect_args["cursor_factory"] = ReadCursor
    engine = create_async_engine(
        target,
        echo=echo,
        json_deserializer=_json_loads,
        # Every connection is kept, none opened for a burst and closed after it: a connection
        # returned to a full pool is closed on return, which costs a connect per burst and,
        # for the read path's raw connections (returned outside SQLAlchemy's greenlet), fails.
        poolclass=FairPool,
        pool_size=POOL_SIZE,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=connect_args,
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if reading else {}),
    )
    _configure_postgresql(engine)
    _ping_after_idle(engine)
    _begin_acting(engine, reading=reading)
    return engine


# Integers of 19 digits or more may lie beyond 64 bits, which orjson reads as floats.
_LONG_INTEGER = re.compile(rb"[0-9]{19}")


def _json_loads(text: str | bytes) -> Any:
    # JSON columns as SQLite (text) and psycopg (bytes) hand them over: parsed by orjson, many
    # times faster than the standard library for the small values these columns hold (a page
    # of 50 tasks parsed 50 tag lists), and by the standard library where orjson would round.
    raw = text.encode() if isinstance(text, str) else text
    return json.loads(raw) if _LONG_INTEGER.search(raw) else orjson.loads(raw)


def _configure_postgresql(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        connection.autocommit = True  # BEGIN is ours to send (see `_begin_acting`)
        # Timestamps come back in the session's time zone: in UTC, psycopg gives them Python's
        # UTC, as they are served, and none needs converting (a page of 50 tasks has 150).
        # Set by a statement, not a startup option, which poolers such as PgBouncer refuse:
        # they carry the setting over to each server connection a client is given.
        cursor = connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()


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


def _begin_acting(engine: AsyncEngine, *, reading: bool) -> None:
    # Transactions begin with our own BEGIN, which carries the acting user's setting in the
    # same message (see rls.py): the driver's implicit BEGIN would cost a round trip of its
    # own before the setting could be sent. The read pool stays in autocommit: each read
    # carries its own setting, and only the jobs across users begin a transaction there.
    if reading:

        @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
        def _scope(
            connection: Connection, _: Any, statement: str, parameters: Any, *__: Any
        ) -> tuple[str, Any]:
            user_id = connection.get_execution_options().get(USER_OPTION)
            if user_id is None or not isinstance(parameters, dict):
                return statement, parameters
            return scoped_read(statement, parameters, user_id)

    begin = "BEGIN READ ONLY" if reading else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options: Mapping[str, Any] = connection.get_execution_options()
        if reading:
            if not options.get(ALL_USERS_OPTION):
                return  # an autocommit read, which carries its own setting
            options = {ALL_USERS_OPTION: True}
        driver: psycopg.AsyncConnection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
        if driver.info.transaction_status != pq.TransactionStatus.IDLE:
            return  # begun on the driver already, by a write transaction (see transactions.py)
        _begin_on_driver(connection, begin_statement(begin, options, quoter(driver)))


def _begin_on_driver(connection: Connection, statement: str) -> None:
    # Sent on the driver: SQLAlchemy's execution machinery around this one statement cost 5-8%
    # of a task's creation (measured).
    await_(begin_on_driver(connection.engine, connection.connection, statement))


async def begin_on_driver(engine: Engine, pooled: PoolProxiedConnection, statement: str) -> None:
    """Send `statement`, a BEGIN and the settings that go with it, on `pooled`'s driver.

    A connection found dead here is retired as SQLAlchemy retires one, with every older one
    of its pool, so that the transaction is tried once more on a fresh one
    (`once_more_if_lost`).
    """
    if engine.echo:
        engine.logger.info("%s", statement)
    driver: psycopg.AsyncConnection[Any] = pooled.driver_connection  # type: ignore[assignment]
    try:
        await driver.execute(statement)
    except psycopg.Error as error:
        if not lost(pooled):
            raise
        await greenlet_spawn(engine.pool._invalidate, pooled, error)
        raise OperationalError(statement, None, error, connection_invalidated=True) from error


def _configure_sqlite(engine: AsyncEngine, *pragmas: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so that BEGIN is ours to emit.
        connection.isolation_level = None
        cursor = connection.cursor()
        for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL", *pragmas):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def _begin_with(engine: AsyncEngine, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)
