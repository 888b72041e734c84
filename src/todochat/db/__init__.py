"""Engines and transactions on SQLite (embedded default) and PostgreSQL (production, Neon).

One job per module: `urls` (what a DATABASE_URL names), `engine` (pools tuned per backend),
`sqlite` (SQLite written from the event loop's thread), `session` (transactions and read
sessions acting for one user), `compiled` (hot statements compiled once and run on the driver),
`reads` and `writes` (the read and write paths of those), `store` (the base of the per-domain
stores).
"""

from todochat.db.engine import create_engine
from todochat.db.reads import CompiledRead
from todochat.db.session import Database, ReadSession, act_for, acting_user
from todochat.db.store import Store
from todochat.db.urls import async_url, describe, driver_url, sqlite_path
from todochat.db.writes import CompiledWrite

__all__ = [
    "CompiledRead",
    "CompiledWrite",
    "Database",
    "ReadSession",
    "Store",
    "act_for",
    "acting_user",
    "async_url",
    "create_engine",
    "describe",
    "driver_url",
    "sqlite_path",
]
