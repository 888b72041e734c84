"""SQLite written from the event loop's own thread, which nothing is allowed to block.

A statement on a local WAL file takes microseconds; handing each one to a worker thread and
back, as aiosqlite does several times per statement, costs many times that. The write engine
calls sqlite3 directly instead. Only two things could make it wait:

- the write lock, which another connection may hold: BEGIN IMMEDIATE is tried without
  waiting and retried after ever longer sleeps that let the loop run, until the busy wait runs
  out and it fails as SQLite itself does ("database is locked");
- checkpoints, which copy the WAL into the database file and sync both to disk: they run in a
  worker thread, on the write connection between two of its transactions, while the process's
  other writers wait their turn for it in the pool.
"""

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any, ParamSpec

from sqlalchemy import URL, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.util import await_

log = logging.getLogger("todochat.db")
Arguments = ParamSpec("Arguments")
DRIVER = "inloop"
FIRST_PAUSE = 0.0005
LONGEST_PAUSE = 0.01
# When the WAL has grown this much, a checkpoint is due (SQLite's default: 1,000 pages).
CHECKPOINT_BYTES = 4 * 1024 * 1024
# A checkpoint that could not rewind the WAL is tried again once the WAL has grown this much.
RETRY_BYTES = CHECKPOINT_BYTES // 4


def _awaiting(run: Callable[Arguments, None]) -> Callable[Arguments, None]:
    """`run`, then the await an async engine asks of every statement (see `_awaited`)."""

    @functools.wraps(run)
    def awaiting(*args: Arguments.args, **kwargs: Arguments.kwargs) -> None:
        run(*args, **kwargs)
        _awaited()

    return awaiting


class InLoopDialect(SQLiteDialect_pysqlite):
    """sqlite3 in the event loop's thread, for the engine that writes."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    def __init__(self, busy_wait: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.busy_wait = busy_wait
        self._checkpointer: Checkpointer | None = None

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        """A pool whose wait for a free connection lets the event loop run."""
        return pool.AsyncAdaptedQueuePool

    def create_connect_args(self, url: URL) -> Any:
        """sqlite3's arguments for the file `url` names, which the checkpointer minds."""
        self._checkpointer = Checkpointer(Path(url.database or ""))
        arguments, options = super().create_connect_args(url)
        return arguments, {**options, "factory": Connection}

    def on_connect(self) -> Any:
        """Never wait on a lock in the loop; checkpoint elsewhere; BEGIN is ours to emit."""
        inherited = super().on_connect()

        def connected(connection: DBAPIConnection) -> None:
            inherited(connection)
            connection.isolation_level = None
            for pragma in (
                "busy_timeout = 0",
                "wal_autocheckpoint = 0",
                # The WAL is rewound after a checkpoint; cut it back to a size below the one
                # that makes a checkpoint due.
                f"journal_size_limit = {CHECKPOINT_BYTES // 4}",
            ):
                connection.execute(f"PRAGMA {pragma}")

        return connected

    def do_begin(self, dbapi_connection: DBAPIConnection) -> None:
        """BEGIN IMMEDIATE, unless the transaction began on the driver already (as a write
        transaction does: see transactions.py)."""
        connection: sqlite3.Connection = dbapi_connection  # type: ignore[assignment]
        if not connection.in_transaction:
            await_(self.begin_immediate(connection))

    async def begin_immediate(self, connection: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE: the write lock up front, waited for without blocking the loop.

        Up front, because a transaction that read first and then had to upgrade to a write
        would fail at once if another writer came between.
        """
        give_up = time.monotonic() + self.busy_wait
        pause = FIRST_PAUSE
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _busy(error) or time.monotonic() + pause > give_up:
                    raise
            await asyncio.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE)

    # The inherited calls (cursor.execute, executemany), each followed by the await an async
    # engine asks for.
    do_execute = _awaiting(SQLiteDialect_pysqlite.do_execute)
    do_execute_no_params = _awaiting(SQLiteDialect_pysqlite.do_execute_no_params)
    do_executemany = _awaiting(SQLiteDialect_pysqlite.do_executemany)

    def do_commit(self, dbapi_connection: DBAPIConnection) -> None:
        """Commit, then checkpoint if one is due (see `commit`)."""
        connection: sqlite3.Connection = dbapi_connection  # type: ignore[assignment]
        await_(self.commit(connection))

    async def commit(self, connection: sqlite3.Connection) -> None:
        """Commit; then, once the WAL has grown to `CHECKPOINT_BYTES`, copy it back into the
        database file, in a worker thread, before the connection is given back.

        Checkpointed on this connection, between its transactions, the WAL is copied whole and
        rewound. From a connection of its own, a checkpoint under a stream of writes found the
        write lock taken nearly every time: the WAL was never rewound, stayed past the size,
        and every commit started another checkpoint (measured with 64 clients creating tasks:
        160 a second, a quarter of the process's CPU).
        """
        connection.commit()
        if self._checkpointer is not None and self._checkpointer.due():
            # To its end even if the caller is cancelled meanwhile: the connection must not go
            # back to the pool, or be rolled back, while the thread still uses it.
            await _to_the_end(asyncio.to_thread(self._checkpointer.run, connection))


async def _to_the_end(work: Coroutine[Any, Any, None]) -> None:
    """Await `work` to its end, through any cancellation, which is then passed on."""
    running = asyncio.ensure_future(work)
    cancelled = False
    while not running.done():
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            cancelled = True
    running.result()
    if cancelled:
        raise asyncio.CancelledError


def _busy(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class Cursor(sqlite3.Cursor):
    """A sqlite3 cursor, as an async engine handles it."""

    async def _async_soft_close(self) -> None:
        # Async drivers read a result whole before an await returns; rows from a local
        # file are as well read when asked for, in this same thread.
        pass


class Connection(sqlite3.Connection):
    """A sqlite3 connection whose cursors an async engine can handle."""

    def cursor(self, factory: Any = Cursor) -> Cursor:  # type: ignore[override]
        """A new cursor."""
        return super().cursor(factory)  # type: ignore[no-any-return]


class _Done:
    """An awaitable that is already done: awaiting it never suspends."""

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


_DONE = _Done()


def _awaited() -> None:
    # An async engine refuses a statement during which nothing was awaited, to catch a
    # blocking driver used by mistake; this one blocks on purpose, for microseconds.
    await_(_DONE)


class Checkpointer:
    """Copies an SQLite file's WAL back into it, once the WAL has grown.

    A checkpoint cannot rewind the WAL while another connection reads an older snapshot (a
    long read, another process): the WAL then stays past the size, and the next checkpoint is
    tried once it has grown by `RETRY_BYTES` more, not after every commit.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wal = path.with_name(path.name + "-wal")
        self._tried_at: int | None = None  # the WAL's size when a checkpoint last ran

    def due(self) -> bool:
        """Whether the WAL has grown enough to be copied back."""
        try:
            size = self._wal.stat().st_size
        except FileNotFoundError:
            return False
        if self._tried_at is not None and size < self._tried_at:
            self._tried_at = None  # rewound and cut back since
        if size < CHECKPOINT_BYTES:
            return False
        return self._tried_at is None or size >= self._tried_at + RETRY_BYTES

    def run(self, connection: sqlite3.Connection) -> None:
        """Copy the WAL back on `connection`, which is in no transaction.

        FULL: every frame copied, so that the next write rewinds the WAL (and cuts it back:
        `journal_size_limit`); with no busy wait it never waits for another process's writer
        or reader, copying what it can as PASSIVE does.
        """
        self._tried_at = self._wal.stat().st_size
        try:
            connection.execute("PRAGMA wal_checkpoint(FULL)")
        except sqlite3.Error as error:
            level = logging.DEBUG if _busy(error) else logging.WARNING
            log.log(level, "checkpointing %s stopped short: %s", self._path, error)


registry.register(f"sqlite.{DRIVER}", __name__, InLoopDialect.__name__)
