"""Engines and transactions on SQLite (embedded default) and PostgreSQL (production, Neon).

One job per module: `urls` (what a DATABASE_URL names), `engine` (pools tuned per backend),
`sqlite` (SQLite written from the event loop's thread), `session` (transactions and read
sessions acting for one user), `transactions` (how a write transaction begins and ends),
`acting` (whom a session acts for), `rls` (row-level security's settings on PostgreSQL),
`compiled` (hot statements compiled once and run on the driver), `reads` and `writes` (the read
and write paths of those), `faults` (lost connections and an unavailable database), `store`
(the base of the per-domain stores).

The names below load their module on first use, so that reading a URL (`urls`, the standard
library only) loads no SQLAlchemy: commands such as `todochat token` start without it.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from todochat.db.acting import act_for, acting_user
    from todochat.db.engine import async_url, create_engine
    from todochat.db.reads import CompiledRead
    from todochat.db.session import Database, ReadSession
    from todochat.db.store import Store, view
    from todochat.db.urls import describe, driver_url, sqlite_path
    from todochat.db.writes import CompiledWrite

_MODULES = {
    "CompiledRead": "reads",
    "CompiledWrite": "writes",
    "Database": "session",
    "ReadSession": "session",
    "Store": "store",
    "act_for": "acting",
    "acting_user": "acting",
    "async_url": "engine",
    "create_engine": "engine",
    "describe": "urls",
    "driver_url": "urls",
    "sqlite_path": "urls",
    "view": "store",
}
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
    "view",
]


def __getattr__(name: str) -> Any:
    """A public name, from the module that defines it."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
