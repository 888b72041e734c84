"""Database faults: which errors mean the database cannot serve now, and how a pool gets over
a lost connection.

A connection found dead is discarded together with every connection its pool opened before
it (a server that dropped one has usually dropped them all), and the work that found it is
run once more on a fresh connection when nothing of it can have happened yet: a read, or a
transaction that failed as it began. Anything else that means the database cannot serve now
becomes `DatabaseUnavailable`, whose message names no SQL, driver error or address.
"""

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from todochat.errors import DatabaseUnavailable

log = logging.getLogger("todochat.db")
Result = TypeVar("Result")
# SQLite's result codes (extended ones carry a suffix, as in SQLITE_BUSY_SNAPSHOT).
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_BROKEN = ("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_NOTADB")


def unavailable(error: BaseException) -> DatabaseUnavailable | None:
    """What a client is told of `error` when it means the database cannot serve now; None
    for any other error (a bug, a constraint: those are not the database's state)."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return DatabaseUnavailable(busy=True)
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return DatabaseUnavailable()
        return unavailable(error.orig) if error.orig is not None else None
    if isinstance(error, psycopg.OperationalError):
        # Connection failures, shutdowns, the server starting up, too many connections.
        return DatabaseUnavailable()
    if isinstance(error, sqlite3.Error):
        if sqlite_busy(error):
            return DatabaseUnavailable(busy=True)
        if sqlite_broken(error):
            return DatabaseUnavailable()
    return None


def sqlite_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite gave up waiting for a lock another connection holds."""
    return getattr(error, "sqlite_errorname", "").startswith(_SQLITE_BUSY)


def sqlite_broken(error: sqlite3.Error) -> bool:
    """Whether an SQLite connection cannot go on: closed, or its file unreadable or full."""
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in str(error):
        return True
    return getattr(error, "sqlite_errorname", "").startswith(_SQLITE_BROKEN)


@contextmanager
def translated() -> Iterator[None]:
    """Raise `DatabaseUnavailable` for an error inside that means the database cannot serve."""
    try:
        yield
    except (exc.DBAPIError, exc.TimeoutError, psycopg.Error, sqlite3.Error) as error:
        down = unavailable(error)
        if down is None:
            raise
        # The driver's words stay in the log: they may carry SQL and addresses.
        log.warning("database unavailable: %s: %s", type(error).__name__, error)
        raise down from error


async def once_more_if_lost(attempt: Callable[[], Awaitable[Result]]) -> Result:
    """`attempt()`, run once more if it found its pooled connection dead (SQLAlchemy has then
    discarded it and every connection its pool opened before)."""
    try:
        return await attempt()
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        retrying()
    return await attempt()


def retrying() -> None:
    """Log that work found its connection lost and runs once more."""
    log.info("a pooled connection was lost; trying once more on a fresh one")


def lost(connection: PoolProxiedConnection) -> bool:
    """Whether a raw PostgreSQL connection that just failed has lost its server."""
    driver = connection.driver_connection
    return driver is None or bool(driver.closed or driver.broken)


async def retired(
    engine: AsyncEngine, connection: PoolProxiedConnection, error: psycopg.Error
) -> exc.DBAPIError:
    """Discard `connection`, found dead on the raw read path, and every connection the pool
    opened before it, as SQLAlchemy does when one of its own statements finds one dead; the
    error to raise, as SQLAlchemy would raise it."""
    # Closing the connection awaits the driver, in SQLAlchemy's greenlet.
    await greenlet_spawn(engine.sync_engine.pool._invalidate, connection, error)
    return exc.OperationalError(None, None, error, connection_invalidated=True)
