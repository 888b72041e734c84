"""Sessions and transactions, each acting for one user, on a database's pools."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from todochat.db.engine import create_engine
from todochat.db.reads import READER, PoolReader, Reader, SqliteReader
from todochat.db.urls import sqlite_path
from todochat.errors import Invalid

ACTING_USER = "todochat.user_id"


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


def refuse_write(*_: Any) -> None:
    """Refuse a write in a read session."""
    raise RuntimeError("a read session cannot write: open a transaction")


@event.listens_for(ReadSession, "do_orm_execute")
def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        refuse_write()


event.listen(ReadSession, "before_flush", refuse_write)


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
        # As `async with sessionmaker.begin()`, without its costs: the transaction begins with
        # the first statement, and the session is closed in place after the commit.
        session = self._sessions()
        act_for(session, user_id)
        try:
            yield session
            await session.commit()
        except BaseException:
            # Rolled back as `async with session` closes it: shielded from cancellation, so
            # that no connection is left checked out.
            async with session:
                raise
        # The commit gave the connection back: closing the session does no I/O now, so it is
        # done here, not in the task that `async with` would start (event loop turns).
        session.sync_session.close()

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
