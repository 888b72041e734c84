"""Sessions and transactions, each acting for one user, on a database's pools."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy import Result, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from todochat.db import transactions
from todochat.db.acting import act_for
from todochat.db.engine import SQLITE_BUSY_TIMEOUT_SECONDS, create_engine
from todochat.db.faults import once_more_if_lost, retrying, translated
from todochat.db.reads import READER, PoolReader, Reader, SqliteReader
from todochat.db.rls import ALL_USERS_OPTION, USER_OPTION
from todochat.db.urls import sqlite_path


class ReadSession(Session):
    """A session that reads only: any insert, update, delete or flush is refused."""


def refuse_write(*_: Any) -> None:
    """Refuse a write in a read session."""
    raise RuntimeError("a read session cannot write: open a transaction")


@event.listens_for(ReadSession, "do_orm_execute")
def _read(state: ORMExecuteState) -> Result[Any] | None:
    if state.is_insert or state.is_update or state.is_delete:
        refuse_write()
    if state.session.in_transaction():
        return None  # the session holds a connection already, and has read on it
    # The session's first statement takes a pooled connection: if that one turns out dead,
    # nothing has been read yet, and the statement runs once more on a fresh one.
    try:
        return state.invoke_statement()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    retrying()
    state.session.rollback()  # gives back the dead connection
    return state.invoke_statement()


event.listen(ReadSession, "before_flush", refuse_write)


class Database:
    """A pool of connections to one database, and the sessions opened on it.

    Every way in (transactions, read sessions, the compiled reads) gets over a lost
    connection on its own, and raises `DatabaseUnavailable` while the database cannot serve.
    """

    def __init__(
        self, url: str, *, echo: bool = False, busy_timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS
    ) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, busy_timeout=busy_timeout)
        self.reading_engine = create_engine(url, echo=echo, reading=True, busy_timeout=busy_timeout)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = async_sessionmaker(
            self.reading_engine, expire_on_commit=False, sync_session_class=ReadSession
        )
        path = sqlite_path(url)
        self._reader: Reader = (
            PoolReader(self.reading_engine) if path is None else SqliteReader(path, busy_timeout)
        )

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, user_id: str) -> AsyncIterator[AsyncSession]:
        """A session in one transaction acting for `user_id`: committed if the block succeeds."""
        with translated():
            session = await once_more_if_lost(
                lambda: transactions.begin(self.engine, self._sessions, user_id)
            )
            try:
                yield session
                await transactions.commit(session)
            except BaseException:
                await transactions.roll_back(session)
                raise

    @asynccontextmanager
    async def read(self, user_id: str) -> AsyncIterator[AsyncSession]:
        """A session for reading what `user_id` owns; it refuses to write."""
        session = self._readers(execution_options={USER_OPTION: user_id})
        try:
            act_for(session, user_id)
            session.info[READER] = self._reader
            with translated():
                yield session
        finally:
            # Only a session that took a connection has anything to give back; most reads
            # ran on the reader. Closed directly: nothing was written, so the shielded close
            # task that `async with` would create (a few event loop turns) is not needed.
            if session.in_transaction():
                await session.close()

    @asynccontextmanager
    async def all_users(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection that sees every user's rows, for the jobs that work across
        users (retention finding what expired): row-level security lets it through."""
        with translated():
            async with self.reading_engine.connect() as connection:
                await connection.execution_options(**{ALL_USERS_OPTION: True})
                yield connection

    async def ping(self) -> None:
        """Raise `DatabaseUnavailable` unless the pools reach the database (on SQLite, the read
        pool's: the other's BEGIN IMMEDIATE would contend with writers for the lock)."""
        engines = [self.engine] if self.backend == "postgresql" else []
        with translated():
            for engine in [*engines, self.reading_engine]:
                await once_more_if_lost(partial(_select_one, engine))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        await self.reading_engine.dispose()
        await self._reader.close()


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
