"""The packaged migrations: round trips, drift detection, and the `todochat db` commands."""

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.conftest import BACKENDS, POSTGRES_ADMIN, PostgresServer
from todochat import migrate
from todochat.db import create_engine
from todochat.errors import SchemaDrift
from todochat.search.models import POSTGRESQL_SEARCH_TABLES, SQLITE_SEARCH_TABLES

TODOCHAT = [sys.executable, "-m", "todochat"]


def todochat(*args: str, cwd: Path, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(  # noqa: S603 (our own console entry point)
        [*TODOCHAT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
    await engine.dispose()
    return names


async def execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(sql))
    await engine.dispose()


SCHEMA = {"alembic_version", "users", "tasks", "conversations", "messages", "idempotency_keys"}


def schema(url: str) -> set[str]:
    """The tables a migrated database holds: full-text search has tables of its own."""
    sqlite = url.startswith("sqlite")
    return SCHEMA | (SQLITE_SEARCH_TABLES if sqlite else POSTGRESQL_SEARCH_TABLES)


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_upgrade_downgrade_upgrade_round_trips_without_drift(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert asyncio.run(tables(empty_database)) == schema(empty_database)
    migrate.downgrade(empty_database, "base")
    assert asyncio.run(tables(empty_database)) == {"alembic_version"}
    assert asyncio.run(migrate.current(empty_database)) is None
    migrate.upgrade(empty_database)
    assert asyncio.run(migrate.current(empty_database)) == migrate.head()
    migrate.check(empty_database)


def test_head_is_the_revision_alembic_names_head() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite:///unused.db"))
    assert migrate.head() == scripts.get_current_head()


def test_head_refuses_migrations_that_branch(tmp_path: Path) -> None:
    for name, down in (("a", None), ("b", "a"), ("c", "a")):
        (tmp_path / f"{name}.py").write_text(f"revision = {name!r}\ndown_revision = {down!r}\n")
    with pytest.raises(RuntimeError, match="branch into b, c"):
        migrate.head(tmp_path)
    (tmp_path / "d.py").write_text("revision: str = 'd'\ndown_revision = ('b', 'c')\n")
    assert migrate.head(tmp_path) == "d"


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_check_finds_a_schema_changed_behind_the_migrations(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    asyncio.run(execute(empty_database, "DROP INDEX ix_tasks_user_status"))
    with pytest.raises(SchemaDrift, match="ix_tasks_user_status"):
        migrate.check(empty_database)


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_check_refuses_a_database_that_is_not_at_head(empty_database: str) -> None:
    with pytest.raises(SchemaDrift, match="not up to date"):
        migrate.check(empty_database)


def test_db_upgrade_without_database_url_creates_the_embedded_sqlite_file(tmp_path: Path) -> None:
    result = todochat("db", "upgrade", cwd=tmp_path, database_url=None)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "todochat.db"
    assert database.exists()
    assert str(database) in result.stdout.replace("\n", "")
    assert asyncio.run(tables(f"sqlite:///{database}")) == schema(f"sqlite:///{database}")
    check = todochat("db", "check", cwd=tmp_path, database_url=None)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_db_upgrade_creates_the_schema_on_a_fresh_postgresql(
    empty_database: str, tmp_path: Path
) -> None:
    result = todochat("db", "upgrade", cwd=tmp_path, database_url=empty_database)
    assert result.returncode == 0, result.stderr
    assert asyncio.run(tables(empty_database)) == schema(empty_database)
    current = todochat("db", "current", cwd=tmp_path, database_url=empty_database)
    assert "up to date" in current.stdout
    assert not (tmp_path / "todochat.db").exists()


def test_db_upgrade_creates_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    server = PostgresServer()
    url = server.create()
    server.drop(url)  # a name no database has
    try:
        result = todochat("db", "upgrade", cwd=tmp_path, database_url=url)
        assert result.returncode == 0, result.stderr
        assert asyncio.run(tables(url)) == schema(url)
    finally:
        server.drop(url)


def test_db_upgrade_says_so_when_the_role_may_not_create_the_database(tmp_path: Path) -> None:
    server = PostgresServer()
    url = server.create()
    server.drop(url)
    role = f"nocreate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB")
    try:
        as_role = url.replace("postgresql://postgres@", f"postgresql://{role}@")
        result = todochat("db", "upgrade", cwd=tmp_path, database_url=as_role)
        assert result.returncode == 1
        assert "may not create it" in result.stderr.replace("\n", " ")
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_db_check_exits_non_zero_on_drift(empty_database: str, tmp_path: Path) -> None:
    assert todochat("db", "upgrade", cwd=tmp_path, database_url=empty_database).returncode == 0
    asyncio.run(execute(empty_database, "ALTER TABLE tasks ADD COLUMN color VARCHAR(10)"))
    result = todochat("db", "check", cwd=tmp_path, database_url=empty_database)
    assert result.returncode == 1
    assert "color" in result.stderr


async def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        found = [tuple(row) for row in await connection.execute(text(sql))]
    await engine.dispose()
    return found


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_the_keys_migration_goes_down_and_up_keeping_every_message(empty_database: str) -> None:
    migrate.upgrade(empty_database, "2026_11_24_keys")
    for sql in (
        "INSERT INTO users (id) VALUES ('u')",
        "INSERT INTO conversations (user_id, id, key) VALUES ('u', 1, 'support-42')",
        "INSERT INTO messages (user_id, conversation_id, seq, key, role, content)"
        " VALUES ('u', 1, 1, 'msg_1', 'user', 'hello')",
    ):
        asyncio.run(execute(empty_database, sql))
    migrate.downgrade(empty_database, "-1")
    assert asyncio.run(rows(empty_database, "SELECT seq, content FROM messages")) == [(1, "hello")]
    migrate.upgrade(empty_database)
    assert asyncio.run(rows(empty_database, "SELECT key FROM conversations")) == [(None,)]
    migrate.check(empty_database)


def policies(url: str) -> set[str]:
    """Each policy's condition on `tasks`."""
    found = asyncio.run(rows(url, "SELECT qual FROM pg_policies WHERE tablename = 'tasks'"))
    return {str(qual) for (qual,) in found}


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_the_policies_read_their_settings_in_place_and_go_back_to_subqueries(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database)
    assert policies(empty_database) == {
        "((user_id)::text = current_setting('todochat.user_id'::text, true))",
        "(NULLIF(current_setting('todochat.all_users'::text, true), ''::text))::boolean",
    }
    migrate.downgrade(empty_database, "2026_11_25_row_security")
    assert policies(empty_database) == {
        "((user_id)::text = ( SELECT current_setting('todochat.user_id'::text, true)"
        " AS current_setting))",
        "( SELECT (current_setting('todochat.all_users'::text, true) = 'on'::text))",
    }


LEXEMES_BEFORE = "2026_11_26_plain_policies"
# A user and assistant message, a tool record, a deleted message, a task: before the lexemes.
WRITTEN = [
    "INSERT INTO users (id) VALUES ('u')",
    "INSERT INTO conversations (user_id, id) VALUES ('u', 1)",
    "INSERT INTO messages (user_id, conversation_id, seq, role, content, deleted_at) VALUES"
    " ('u', 1, 1, 'user', 'the pipe is leaking', NULL),"
    " ('u', 1, 2, 'tool', 'leak', NULL),"
    " ('u', 1, 3, 'assistant', 'a plumber fixes leaks', NULL),"
    " ('u', 1, 4, 'user', 'another leak', now())",
    "INSERT INTO tasks (user_id, id, title, description) VALUES ('u', 1, 'Fix the leak', NULL)",
]
MATCHES = {
    "message_search": "SELECT seq FROM message_search"
    " WHERE search_vector @@ to_tsquery('english', 'leak') ORDER BY seq",
    "task_search": "SELECT task_id FROM task_search"
    " WHERE search_vector @@ to_tsquery('english', 'leak')",
}
# The same, from the generated columns before (tasks negated).
OLD_MATCHES = (
    "SELECT seq FROM messages WHERE search_vector @@ to_tsquery('english', 'leak')"
    " UNION ALL SELECT -id FROM tasks WHERE search_vector @@ to_tsquery('english', 'leak')"
)


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_the_lexemes_move_to_tables_of_their_own_and_back(empty_database: str) -> None:
    migrate.upgrade(empty_database, LEXEMES_BEFORE)
    for sql in WRITTEN:
        asyncio.run(execute(empty_database, sql))
    for _ in range(2):  # indexed on upgrade, and again after a downgrade
        migrate.upgrade(empty_database)
        found = {table: asyncio.run(rows(empty_database, sql)) for table, sql in MATCHES.items()}
        assert found == {"message_search": [(1,), (3,)], "task_search": [(1,)]}
        migrate.check(empty_database)
        migrate.downgrade(empty_database, LEXEMES_BEFORE)
        assert sorted(asyncio.run(rows(empty_database, OLD_MATCHES))) == [(-1,), (1,), (3,), (4,)]
