"""Engines and transactions on SQLite (embedded default) and PostgreSQL (production, Neon).

One job per module: `urls` (what a DATABASE_URL names), `engine` (pools tuned per backend),
`session` (transactions and read sessions acting for one user), `acting` (whom a session acts
for), `rls` (row-level security's settings on PostgreSQL), `reads` (hot SELECTs compiled once
and run on the driver), `faults` (lost connections and an unavailable database), `store` (the
base of the per-domain stores).
"""

from todochat.db.acting import act_for, acting_user
from todochat.db.engine import create_engine
from todochat.db.reads import CompiledRead
from todochat.db.session import Database, ReadSession
from todochat.db.store import Store
from todochat.db.urls import async_url, describe, driver_url, sqlite_path

__all__ = [
    "CompiledRead",
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
