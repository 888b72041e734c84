"""Engines tuned per backend: pool sizes, pre-ping after idle, SQLite's pragmas and BEGIN."""

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from todochat.db.urls import async_url

IDLE_SINCE = "todochat_idle_since"
PING_AFTER_IDLE_SECONDS = 10.0
# Neon suspends idle computes after five minutes; recycle connections well before that.
POOL_RECYCLE_SECONDS = 240
SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 15  # connections per pool, each opened on first need


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
        # Every connection is kept, none opened for a burst and closed after it: a connection
        # returned to a full pool is closed on return, which costs a connect per burst and,
        # for the read path's raw connections (returned outside SQLAlchemy's greenlet), fails.
        pool_size=POOL_SIZE,
        max_overflow=0,
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
