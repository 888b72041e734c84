"""Schema migrations: Alembic driven from the package, for the CLI, the server and the tests."""

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from psycopg import sql
from sqlalchemy import make_url

from todochat.db import create_engine, driver_url, sqlite_path
from todochat.errors import CannotCreate, SchemaDrift


def create_database(url: str) -> None:
    """Create the PostgreSQL database `url` names unless it exists (SQLite makes its file)."""
    if sqlite_path(url) is not None:
        return
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
                raise unreachable  # it exists: the trouble is something else
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        raise CannotCreate(
            f"the database {name!r} does not exist and this role may not create it:"
            f" create it first (createdb {name})"
        ) from None
    except psycopg.OperationalError:
        raise unreachable from None


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at `url`, using the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", "todochat:migrations")
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision`."""
    command.downgrade(alembic_config(url), revision)


def head() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()


async def current(url: str) -> str | None:
    """The revision the database is at (None when it has never been migrated)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def check(url: str) -> None:
    """Raise `SchemaDrift` unless the database is at head and matches the models exactly."""
    try:
        command.check(alembic_config(url))
    except CommandError as error:  # including "not at head" and "diffs detected"
        raise SchemaDrift(str(error)) from None


def revision(url: str, message: str) -> None:
    """Write a new migration from the difference between the database and the models."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
