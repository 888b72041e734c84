"""Alembic's entry point: runs migrations on the async engine for the configured database."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy.engine import Connection

from todochat.config import get_settings
from todochat.db import create_engine
from todochat.db.rls import ALL_USERS_OPTION
from todochat.models import Base
from todochat.orm import Json, UTCDateTime
from todochat.search.models import SEARCH_TABLES

config = context.config


def _render_item(kind: str, item: object, autogen: AutogenContext) -> str | Literal[False]:
    # Migrations must not import the application: write its column types as plain SQLAlchemy.
    if kind != "type":
        return False
    if isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if item is Json:
        autogen.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def _include_name(name: str | None, kind: NameFilterType, _: NameFilterParentNames) -> bool:
    # The search objects are maintained by the database and defined by the migrations alone.
    return not (kind == "table" and name in SEARCH_TABLES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        include_name=_include_name,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(config.attributes.get("url") or get_settings().database_url)
    try:
        async with engine.connect() as connection:
            # Data migrations change every user's rows: row-level security must let them.
            await connection.execution_options(**{ALL_USERS_OPTION: True})
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


# Alembic's commands are synchronous, and their caller may already run an event loop in this
# thread (an async command, a test's browser driver): the migration runs in a thread of its own.
with ThreadPoolExecutor(max_workers=1) as migrating:
    migrating.submit(lambda: asyncio.run(_run_online())).result()
