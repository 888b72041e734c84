"""Schema migrations: Alembic driven from the package, for the CLI, the server and the tests.

Where a database stands (`current`, `head`) is read without Alembic or SQLAlchemy, on the bare
driver and from the migration files' text, so that `todochat db current` starts at once;
Alembic loads in the functions that migrate.
"""

import ast
import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from todochat.db.urls import driver_url, sqlite_path
from todochat.errors import CannotCreate, DatabaseUnavailable, SchemaDrift

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS = Path(__file__).parent / "migrations" / "versions"
STAMPED = "SELECT version_num FROM alembic_version"


def create_database(url: str) -> None:
    """Create the PostgreSQL database `url` names unless it exists (SQLite makes its file);
    `DatabaseUnavailable` when the server cannot be reached."""
    if sqlite_path(url) is not None:
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    target = make_url(driver_url(url))
    try:
        psycopg.connect(target.render_as_string(hide_password=False), connect_timeout=10).close()
        return
    except psycopg.OperationalError as error:
        unreachable = error
    maintenance = target.set(database="postgres").render_as_string(hide_password=False)
    name = target.database or ""
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                raise DatabaseUnavailable() from unreachable  # it exists: trouble is elsewhere
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        raise CannotCreate(
            f"the database {name!r} does not exist and this role may not create it:"
            f" create it first (createdb {name})"
        ) from None
    except psycopg.OperationalError:
        raise DatabaseUnavailable() from unreachable


def alembic_config(url: str) -> "Config":
    """An Alembic configuration for the database at `url`, using the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "todochat:migrations")
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`; `DatabaseUnavailable` if it cannot be reached."""
    from alembic import command

    _reaching(url, command.upgrade, revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision`; `DatabaseUnavailable` if it cannot be reached."""
    from alembic import command

    _reaching(url, command.downgrade, revision)


def _reaching(url: str, run: Callable[..., None], *arguments: str) -> None:
    """Alembic's command `run` on the database at `url`, its failures to reach the database
    raised as `DatabaseUnavailable`."""
    from todochat.db.faults import translated

    with translated():
        run(alembic_config(url), *arguments)


def head(versions: Path = VERSIONS) -> str | None:
    """The newest revision the package ships: the one no other revises."""
    revised: dict[str, tuple[str, ...]] = {}
    for script in versions.glob("*.py"):
        revision, down = _revision(script)
        revised[revision] = down
    heads = sorted(set(revised) - {parent for down in revised.values() for parent in down})
    if len(heads) > 1:
        raise RuntimeError(f"the migrations branch into {', '.join(heads)}: merge them")
    return heads[0] if heads else None


def _revision(script: Path) -> tuple[str, tuple[str, ...]]:
    """A migration's revision and those it revises, as Alembic reads them: module constants."""
    found: dict[str, object] = {}
    for statement in ast.parse(script.read_text(), str(script)).body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    found[target.id] = ast.literal_eval(statement.value)
    match found:
        case {"revision": str(revision), "down_revision": str(down)}:
            return revision, (down,)
        case {"revision": str(revision), "down_revision": None}:
            return revision, ()
        case {"revision": str(revision), "down_revision": tuple(downs)}:
            return revision, tuple(map(str, downs))
    raise RuntimeError(f"{script.name} names no revision and down_revision Alembic can read")


async def current(url: str) -> str | None:
    """The revision the database is at (None when it has never been migrated);
    `DatabaseUnavailable` when it cannot be read."""
    path = sqlite_path(url)
    if path is None:
        return await asyncio.to_thread(_stamped_postgresql, url)
    return await asyncio.to_thread(_stamped_sqlite, path)


def _stamped_sqlite(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            if not connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone():
                return None
            row = connection.execute(STAMPED).fetchone()
    except sqlite3.DatabaseError as error:  # unopenable, not a database, locked past the wait
        raise DatabaseUnavailable() from error
    return None if row is None else str(row[0])


def _stamped_postgresql(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(driver_url(url), connect_timeout=10) as connection:
            try:
                found = connection.execute(STAMPED).fetchone()
            except psycopg.errors.UndefinedTable:
                return None
    except psycopg.OperationalError as error:  # refused, timed out, shutting down, no such role
        raise DatabaseUnavailable() from error
    return None if found is None else str(found[0])


async def revision_of(engine: "AsyncEngine") -> str | None:
    """The revision of the database `engine` reaches, read on one of its pooled connections (a
    server's readiness); `DatabaseUnavailable` if it cannot be reached."""
    from alembic.runtime.migration import MigrationContext

    from todochat.db.faults import translated

    with translated():
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )


def check(url: str) -> None:
    """Raise `SchemaDrift` unless the database is at head and matches the models exactly;
    `DatabaseUnavailable` if it cannot be reached."""
    from alembic import command
    from alembic.util import CommandError

    try:
        _reaching(url, command.check)
    except CommandError as error:  # including "not at head" and "diffs detected"
        raise SchemaDrift(str(error)) from None


def revision(url: str, message: str) -> None:
    """Write a new migration from the difference between the database and the models."""
    from alembic import command

    command.revision(alembic_config(url), message=message, autogenerate=True)
