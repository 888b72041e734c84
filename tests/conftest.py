"""Fixtures: one migrated database per backend per run, one rolled-back transaction per test."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from todochat import migrate
from todochat.app import create_app
from todochat.config import Settings
from todochat.db import Database, act_for
from todochat.users.store import UserStore
from todochat.users.tokens import issue_token

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "a-test-secret-that-is-long-enough-for-hs256-tokens"  # noqa: S105 (tests only)
BACKENDS = ["sqlite", "postgresql"]
# PostgreSQL as the role that owns the database, as on Neon: row-level security binds it.
OWNER = "postgresql-owner"


def _postgres_unreachable(error: Exception) -> None:
    message = f"PostgreSQL at {POSTGRES_ADMIN} is unreachable: {error}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(f"SKIPPING POSTGRESQL TESTS: {message}")


class PostgresServer:
    """Creates and drops throwaway databases on the local PostgreSQL."""

    def create(self, *, owned: bool = False) -> str:
        """A new empty database; its URL. `owned`: owned by a new login role of the same name,
        which the URL connects as: unlike the superuser, it is bound by row-level security."""
        name = f"todochat_test_{uuid.uuid4().hex[:12]}"
        try:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5) as admin:
                if owned:
                    admin.execute(f'CREATE ROLE "{name}" LOGIN')
                admin.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{name}"' if owned else ""))
        except psycopg.OperationalError as error:
            _postgres_unreachable(error)
        role = name if owned else "postgres"
        return f"postgresql://{role}@127.0.0.1:5432/{name}?sslmode=disable"

    def drop(self, url: str) -> None:
        """Drop a database `create` made, and its owner if it made one."""
        name = url.rsplit("/", 1)[1].split("?", maxsplit=1)[0]
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def empty_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a new, empty database on the backend the test is parametrised with
    (`OWNER`: PostgreSQL, connecting as the database's owner rather than the superuser)."""
    backend = request.param if hasattr(request, "param") else "sqlite"
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'todochat.db'}"
        return
    server = PostgresServer()
    url = server.create(owned=backend == OWNER)
    yield url
    server.drop(url)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated to head by the real migrations, one per backend for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'todochat.db'}"
        migrate.upgrade(url)
        yield url
        return
    server = PostgresServer()
    url = server.create()
    migrate.upgrade(url)
    yield url
    server.drop(url)


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    """The pool on the run's database."""
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back when the test ends."""
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


async def new_user(session: AsyncSession, prefix: str = "user") -> str:
    """A new user, which the session now acts for; its id."""
    user_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    act_for(session, user_id)
    await UserStore(session, user_id).ensure()
    return user_id


async def committed_user(database: Database, prefix: str = "user") -> str:
    """A new user committed for good, for tests that need several transactions; its id."""
    user_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    async with database.transaction(user_id) as session:
        await UserStore(session, user_id).ensure()
    return user_id


def settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: the given database and the test secret, ignoring any .env file."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        better_auth_secret=SECRET,
        **overrides,
    )


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    """The real application on the run's database, started once per backend."""
    application = create_app(settings(database_url))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the application in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://todochat.test") as client:
        yield client


def bearer(user_id: str, secret: str = SECRET, **claims: Any) -> dict[str, str]:
    """Authorization headers with a token for `user_id`."""
    token = issue_token(secret, user_id, lifetime=timedelta(hours=1), **claims)
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class ApiUser:
    """A user of the API: where their resources live and how they sign requests."""

    id: str
    headers: dict[str, str]

    def url(self, path: str = "") -> str:
        """The URL of one of this user's resources."""
        return f"/api/{self.id}{path}"


def api_user(prefix: str = "user") -> ApiUser:
    """A user the database has not seen yet."""
    user_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    return ApiUser(user_id, bearer(user_id))


@pytest.fixture
def alice() -> ApiUser:
    """A fresh API user."""
    return api_user("alice")


@pytest.fixture
def bob() -> ApiUser:
    """Another fresh API user."""
    return api_user("bob")


async def say(
    client: httpx.AsyncClient,
    user: ApiUser,
    message: str,
    conversation_id: int | None = None,
    *,
    stream: bool = False,
) -> httpx.Response:
    """Send `message` to the chat endpoint as `user`, asking for SSE if `stream`."""
    accept = {"Accept": "text/event-stream"} if stream else {}
    return await client.post(
        user.url("/chat"),
        json={"conversation_id": conversation_id, "message": message},
        headers={**user.headers, **accept},
    )


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait for `condition()` to hold, polling."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")
