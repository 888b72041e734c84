"""Write transactions: begun on PostgreSQL's driver, with SQLAlchemy's session joining if used.

SQLAlchemy's session, connection and transaction objects around a write cost more CPU than the
write itself: measured in process, a task's creation took 570 to 650 µs in a session's
transaction, 480 to 550 µs in one begun here, 310 to 350 µs on the bare driver. On PostgreSQL a
transaction takes a pooled connection and sends its BEGIN, with the acting user's setting,
itself; the compiled statements run on the driver; the session, bound to that connection,
begins its own transaction on it only if the ORM is used (with no second BEGIN: the engine sees
the driver's transaction under way), and the end commits or rolls back whichever began. On
SQLite the session begins and ends them all.
"""

import asyncio
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from todochat.db.acting import act_for
from todochat.db.compiled import hold, transaction_connection
from todochat.db.engine import begin_on_driver
from todochat.db.faults import lost
from todochat.db.rls import USER_OPTION, begin_statement, quoter

_OWNED = "todochat_owned_connection"


async def begin(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], user_id: str
) -> AsyncSession:
    """A session of `sessions` in a new transaction on `engine`, acting for `user_id`.

    BEGIN goes out now rather than with the first statement (the same round trip either way):
    a dead pooled connection shows here, before the caller has done anything.
    """
    options = {USER_OPTION: user_id}
    if engine.dialect.name != "postgresql":
        session = sessions(execution_options=options)
        act_for(session, user_id)
        try:
            await transaction_connection(session)  # kept for the compiled statements
        except BaseException:
            await session.close()
            raise
        return session
    pooled = await engine.raw_connection()
    driver: psycopg.AsyncConnection[Any] = pooled.driver_connection  # type: ignore[assignment]
    try:
        await begin_on_driver(
            engine.sync_engine, pooled, begin_statement("BEGIN", options, quoter(driver))
        )
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


async def commit(session: AsyncSession) -> None:
    """Commit the transaction `begin` began, and give its connection back (on failure, see
    `roll_back`)."""
    connection: AsyncConnection | None = session.info.get(_OWNED)
    if connection is None:
        await session.commit()  # which gives the connection back
        # No I/O is left: closed here, not in the task that `async with` would start.
        session.sync_session.close()
        return
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        await session.commit()  # flushed, then committed on the driver
    else:
        await _driver(connection).commit()
    await connection.close()


async def roll_back(session: AsyncSession) -> None:
    """Roll back the transaction `begin` began and give its connection back, shielded from
    cancellation, so that no connection is left checked out."""
    await asyncio.shield(_roll_back(session))


async def _roll_back(session: AsyncSession) -> None:
    connection: AsyncConnection | None = session.info.get(_OWNED)
    try:
        await session.close()  # rolls back the session's own transaction, if it began one
        if connection is not None and not connection.invalidated:
            try:
                await _driver(connection).rollback()  # nothing is sent if none is under way
            except psycopg.Error as error:
                if not lost(_pooled(connection)):
                    raise
                await connection.invalidate(error)  # discarded, not given back
    finally:
        if connection is not None:
            await connection.close()


def _pooled(connection: AsyncConnection) -> PoolProxiedConnection:
    assert connection.sync_connection is not None
    return connection.sync_connection.connection


def _driver(connection: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    driver: psycopg.AsyncConnection[Any] = _pooled(connection).driver_connection  # type: ignore[assignment]
    return driver
