"""The pool serves waiting requests in the order they came, and still times out."""

import asyncio

import pytest
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from tests.conftest import BACKENDS
from todochat.db.engine import async_url, create_engine
from todochat.db.pool import FairPool, FairQueue

pytestmark = pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)


def one_connection(url: str, timeout: float = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        poolclass=FairPool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=timeout,
        pool_reset_on_return=None,  # connections go back outside SQLAlchemy's greenlet here
    )


def test_every_engine_pools_fairly(empty_database: str) -> None:
    for reading in (False, True):
        assert isinstance(create_engine(empty_database, reading=reading).sync_engine.pool, FairPool)


async def test_a_returned_connection_goes_to_the_longest_waiter(empty_database: str) -> None:
    engine = one_connection(empty_database)
    served: list[str] = []

    async def take(name: str) -> None:
        connection = await engine.raw_connection()
        served.append(name)
        await asyncio.sleep(0.01)
        connection.close()

    try:
        held = await engine.raw_connection()
        waiting = [asyncio.create_task(take(f"waiter {n}")) for n in (1, 2)]
        await asyncio.sleep(0.05)  # both wait in line now
        held.close()
        await take("newcomer")  # asks the moment the connection is back, before any waiter ran
        await asyncio.gather(*waiting)
        assert served == ["waiter 1", "waiter 2", "newcomer"]
    finally:
        await engine.dispose()


async def test_connections_back_at_once_go_to_the_waiters_before_any_newcomer(
    empty_database: str,
) -> None:
    queue = FairQueue()
    waiters = [asyncio.create_task(greenlet_spawn(queue.get, True, 5)) for _ in range(3)]
    await asyncio.sleep(0.01)  # all three wait in line
    queue.put_nowait("a")
    queue.put_nowait("b")
    await asyncio.sleep(0)  # the first waiter has taken its connection; the second has not yet
    loop = asyncio.get_running_loop()
    loop.call_later(0.02, queue.put_nowait, "c")
    loop.call_later(0.04, queue.put_nowait, "d")
    newcomer = await greenlet_spawn(queue.get, True, 5)
    assert [await waiter for waiter in waiters] == ["a", "b", "c"]
    assert newcomer == "d"


async def test_a_request_that_waits_too_long_times_out(empty_database: str) -> None:
    engine = one_connection(empty_database, timeout=0.2)
    try:
        held = await engine.raw_connection()
        with pytest.raises(exc.TimeoutError):
            await engine.raw_connection()
        held.close()
        (await engine.raw_connection()).close()  # the line moves on after a timeout
    finally:
        await engine.dispose()
