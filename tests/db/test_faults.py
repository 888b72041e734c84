"""Database faults: lost connections are replaced unseen, an unavailable database is a 503."""

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, select

from tests.conftest import POSTGRES_ADMIN, ApiUser, api_user, settings
from tests.mcp.test_server import over_http, text
from tests.serving import free_port
from todochat import migrate
from todochat.app import create_app
from todochat.config import Settings
from todochat.db import CompiledRead, Database
from todochat.errors import DatabaseUnavailable
from todochat.tasks.models import Status, Task, TaskCreate, TaskQuery
from todochat.tasks.store import TaskStore
from todochat.users.store import UserStore

LOST = "a pooled connection was lost; trying once more on a fresh one"
USER = "alice"
# Anything of these in an answer would be the driver's words, SQL or an address.
LEAKS = ("127.0.0.1", "localhost", "psycopg", "sqlite", "SELECT", "INSERT", "connection ")
# A second process holds SQLite's write lock until its input closes.
HOLD_LOCK = (
    "import sqlite3, sys\n"
    "connection = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "connection.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def kill_connections(url: str) -> int:
    """Terminate every connection to the database `url` names, as an administrator would;
    wait until they are gone. How many there were."""
    name = make_url(url).database
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
        for _ in range(500):
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
            if left == (0,):
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the connections outlived pg_terminate_backend")
    assert killed is not None
    return int(killed[0])


@pytest.fixture
async def postgres(empty_database: str) -> AsyncIterator[Database]:
    """A migrated PostgreSQL database of the test's own, whose connections it may kill, with
    one task of USER's."""
    migrate.upgrade(empty_database)
    database = Database(empty_database)
    await _transaction_as(database, "Survive")
    yield database
    await database.dispose()


async def _compiled_read(database: Database) -> object:
    async with database.read(USER) as session:
        tasks = await TaskStore(session, USER).list(TaskQuery(status=Status.ALL, limit=10))
    assert [task.title for task in tasks] == ["Survive"]
    return tasks


async def _orm_read(database: Database) -> object:
    async with database.read(USER) as session:
        task = await TaskStore(session, USER).get(1)
    assert task.title == "Survive"
    return task


async def _transaction(database: Database) -> object:
    return await _transaction_as(database, "Written")


async def _transaction_as(database: Database, title: str) -> object:
    async with database.transaction(USER) as session:
        await UserStore(session, USER).ensure()
        return await TaskStore(session, USER).create(TaskCreate(title=title))


async def _titles(database: Database) -> list[str]:
    async with database.read(USER) as session:
        rows = await CompiledRead(select(Task.title).order_by(Task.id)).rows(session)
    return [title for (title,) in rows]


# Each way in, and how many pooled connections it finds dead (ping uses both pools).
WAYS: dict[str, tuple[Callable[[Database], Awaitable[object]], int]] = {
    "compiled read": (_compiled_read, 1),
    "orm read": (_orm_read, 1),
    "transaction": (_transaction, 1),
    "ping": (Database.ping, 2),
}


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("way", list(WAYS))
async def test_each_way_in_runs_once_more_on_a_fresh_connection_when_its_own_was_killed(
    postgres: Database, way: str, caplog: pytest.LogCaptureFixture
) -> None:
    work, pools = WAYS[way]
    await work(postgres)  # the pools now hold connections
    assert kill_connections(postgres.url) >= pools
    with caplog.at_level(logging.INFO, logger="todochat.db"):
        await work(postgres)
    assert [r.message for r in caplog.records].count(LOST) == pools


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
async def test_one_dead_connection_retires_every_older_one_of_its_pool(
    postgres: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # Three reads at once leave three connections in the read pool.
    await asyncio.gather(*(_compiled_read(postgres) for _ in range(3)))
    assert kill_connections(postgres.url) >= 3
    with caplog.at_level(logging.INFO, logger="todochat.db"):
        for _ in range(3):
            await _compiled_read(postgres)
    assert [r.message for r in caplog.records].count(LOST) == 1


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
async def test_a_connection_killed_mid_transaction_is_a_503_and_the_next_one_works(
    postgres: Database,
) -> None:
    with pytest.raises(DatabaseUnavailable):
        await _killed_midway(postgres)
    assert await _titles(postgres) == ["Survive"]


async def _killed_midway(database: Database) -> None:
    async with database.transaction(USER) as session:
        await TaskStore(session, USER).create(TaskCreate(title="Lost"))
        kill_connections(database.url)
        await TaskStore(session, USER).create(TaskCreate(title="Lost too"))


@asynccontextmanager
async def serving(app_settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A fresh application on those settings, and a client of it."""
    app = create_app(app_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://todochat.test", timeout=30
        ) as client,
    ):
        yield app, client


def assert_unavailable(response: httpx.Response, *, busy: bool = False) -> None:
    """A 503 database_unavailable with Retry-After, naming no SQL, driver or address."""
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "2"
    body = response.json()
    assert body["error"] == "database_unavailable"
    state = "busy" if busy else "unreachable"
    assert body["detail"] == f"the database is {state} right now; try again in a few seconds"
    assert not any(leak in response.text for leak in LEAKS)


async def test_while_postgresql_cannot_be_reached_every_surface_answers_503_promptly() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/todochat?sslmode=disable"
    user = api_user()
    async with serving(settings(nowhere)) as (app, client):
        chat = {"conversation_id": None, "message": "Add a task to buy milk"}
        for method, path, body in [
            ("GET", user.url("/tasks"), None),
            ("POST", user.url("/tasks"), {"title": "t"}),
            ("POST", user.url("/chat"), chat),
        ]:
            started = time.monotonic()
            response = await client.request(method, path, json=body, headers=user.headers)
            assert time.monotonic() - started < 1  # refused at once, not after a timeout
            assert_unavailable(response)
        kit = {"type": "threads.list", "params": {"limit": 10}}
        assert_unavailable(await client.post("/chatkit", json=kit, headers=user.headers))
        async with over_http(app, user.headers) as mcp:
            result = await mcp.call_tool("add_task", {"title": "t"})
        assert result.is_error
        assert text(result) == "The task list cannot be reached right now: try again in 2 seconds."
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"] == (
            "the database is unreachable right now; try again in a few seconds"
        )


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Another process holds the SQLite file's write lock for as long as the block lasts."""
    path = make_url(database_url).database
    with subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        try:
            yield
        finally:
            holder.stdin.close()  # the holder reads to the end, and ends
            holder.wait(timeout=10)


async def _create(client: httpx.AsyncClient, user: ApiUser, title: str) -> httpx.Response:
    return await client.post(user.url("/tasks"), json={"title": title}, headers=user.headers)


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
async def test_a_write_behind_another_process_sqlite_lock_is_a_503_within_five_seconds(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database)
    user = api_user()
    async with serving(settings(empty_database)) as (_, client):
        assert (await _create(client, user, "Before")).status_code == 201
        with write_lock_held(empty_database):
            started = time.monotonic()
            refused = await _create(client, user, "Behind the lock")
            waited = time.monotonic() - started
            listed = await client.get(user.url("/tasks"), headers=user.headers)
        assert_unavailable(refused, busy=True)
        assert 4.5 < waited < 8, waited
        assert [task["title"] for task in listed.json()] == ["Before"]  # reads go on
        assert (await _create(client, user, "After")).status_code == 201
        listed = await client.get(user.url("/tasks"), headers=user.headers)
        assert [task["title"] for task in listed.json()] == ["Before", "After"]


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
async def test_an_mcp_write_behind_a_held_sqlite_lock_is_refused_in_one_sentence(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database)
    user = api_user()
    async with serving(settings(empty_database, sqlite_busy_timeout=0.2)) as (app, client):
        assert (await _create(client, user, "Before")).status_code == 201
        async with over_http(app, user.headers) as mcp:
            with write_lock_held(empty_database):
                result = await mcp.call_tool("complete_task", {"task_id": 1})
            assert result.is_error
            assert text(result) == (
                "The task list cannot be reached right now: try again in 2 seconds."
            )
            listed = await mcp.call_tool("list_tasks", {})
        assert not listed.is_error
        assert '"completed": false' in text(listed)


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
async def test_an_unreadable_sqlite_file_is_unavailable_until_it_is_readable_again(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database)
    writer = Database(empty_database)
    await _transaction_as(writer, "Kept")
    await writer.dispose()  # the last connection out checkpoints the file whole
    path = Path(make_url(empty_database).database or "")
    good = overwrite(path, b"not a database" * 1000)  # in place, as a bad disk or restore would
    database = Database(empty_database)
    try:
        with pytest.raises(DatabaseUnavailable):
            await _titles(database)
        overwrite(path, good)
        assert await _titles(database) == ["Kept"]
    finally:
        overwrite(path, good)
        await database.dispose()


def overwrite(path: Path, content: bytes) -> bytes:
    """Write `content` over the file in place; what it held."""
    held = path.read_bytes()
    path.write_bytes(content)
    return held
