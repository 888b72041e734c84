"""Write transactions: begun on the driver, with SQLAlchemy's session joining if used.

SQLAlchemy's session, connection and transaction objects around a write cost more CPU than the
write itself: measured in process, a task's creation on PostgreSQL took 570 to 650 µs in a
session's transaction, 480 to 550 µs in one begun here, 310 to 350 µs on the bare driver. A
transaction takes a pooled connection and sends its BEGIN itself (on PostgreSQL with the acting
user's setting; on SQLite BEGIN IMMEDIATE, waiting for the write lock without blocking the
loop); the compiled statements run on the driver; the session, bound to that connection, begins
its own transaction on it only if the ORM is used (with no second BEGIN: the engine sees the
driver's transaction under way), and the end commits or rolls back whichever began.
"""

import asyncio
import sqlite3
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from todochat.db.acting import act_for
from todochat.db.compiled import hold
from todochat.db.engine import begin_on_driver
from todochat.db.faults import lost
from todochat.db.rls import USER_OPTION, begin_statement, quoter
from todochat.db.sqlite import InLoopDialect

_OWNED = "todochat_owned_connection"


async def begin(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], user_id: str
) -> AsyncSession:
    """A session of `sessions` in a new transaction on `engine`, acting for `user_id`.

    BEGIN goes out now rather than with the first statement (the same round trip either way):
    a dead pooled connection shows here, before the caller has done anything.
    """
    options = {USER_OPTION: user_id}
    pooled = await engine.raw_connection()
    try:
        await _begin_on(engine.sync_engine, pooled, options)
    except BaseException:
        if pooled.is_valid:  # not retired as lost: back to the pool
            await asyncio.shield(greenlet_spawn(pooled.close))
        raise
    connection = AsyncConnection(engine, Connection(engine.sync_engine, connection=pooled))
    session = sessions(bind=connection, execution_options=options)
    act_for(session, user_id)
    session.info[_OWNED] = connection
    hold(session, connection, pooled)
    return session


async def _begin_on(engine: Engine, pooled: PoolProxiedConnection, options: dict[str, Any]) -> None:
    driver = pooled.driver_connection
    if isinstance(driver, sqlite3.Connection):
        await _sqlite(engine.dialect).begin_immediate(driver)
    else:
        assert isinstance(driver, psycopg.AsyncConnection)
        await begin_on_driver(engine, pooled, begin_statement("BEGIN", options, quoter(driver)))


async def commit(session: AsyncSession) -> None:
    """Commit the transaction `begin` began, and give its connection back (on failure, see
    `roll_back`)."""
    connection: AsyncConnection = session.info[_OWNED]
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        await session.commit()  # flushed, then committed on the driver
    elif isinstance(driver := _driver(connection), psycopg.AsyncConnection):
        await driver.commit()
    else:
        await _sqlite(connection.dialect).commit(driver)  # which checkpoints, if one is due
    await connection.close()


async def roll_back(session: AsyncSession) -> None:
    """Roll back the transaction `begin` began and give its connection back, shielded from
    cancellation, so that no connection is left checked out."""
    await asyncio.shield(_roll_back(session))


async def _roll_back(session: AsyncSession) -> None:
    connection: AsyncConnection = session.info[_OWNED]
    try:
        await session.close()  # rolls back the session's own transaction, if it began one
        if not connection.invalidated:
            await _roll_back_on_driver(connection)
    finally:
        await connection.close()


async def _roll_back_on_driver(connection: AsyncConnection) -> None:
    # Nothing is sent if no transaction is under way.
    driver = _driver(connection)
    if isinstance(driver, sqlite3.Connection):
        driver.rollback()
        return
    try:
        await driver.rollback()
    except psycopg.Error as error:
        if not lost(_pooled(connection)):
            raise
        await connection.invalidate(error)  # discarded, not given back


def _pooled(connection: AsyncConnection) -> PoolProxiedConnection:
    assert connection.sync_connection is not None
    return connection.sync_connection.connection


def _driver(connection: AsyncConnection) -> sqlite3.Connection | psycopg.AsyncConnection[Any]:
    driver = _pooled(connection).driver_connection
    assert isinstance(driver, sqlite3.Connection | psycopg.AsyncConnection)
    return driver


def _sqlite(dialect: Dialect) -> InLoopDialect:
    assert isinstance(dialect, InLoopDialect)  # SQLite's write engine's
    return dialect
