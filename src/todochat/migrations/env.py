"""Alembic's entry point: runs migrations on the async engine for the configured database."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from todochat.config import get_settings
from todochat.db import create_engine
from todochat.models import Base
from todochat.orm import Json, UTCDateTime

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


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(config.attributes.get("url") or get_settings().database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


# Alembic's commands are synchronous, and their caller may already run an event loop in this
# thread (an async command, a test's browser driver): the migration runs in a thread of its own.
with ThreadPoolExecutor(max_workers=1) as migrating:
    migrating.submit(lambda: asyncio.run(_run_online())).result()
