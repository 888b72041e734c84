"""Database URLs: as people and Neon write them, as the bare drivers take them.

The standard library only: the command line reads URLs in commands that load no SQLAlchemy.
`engine.async_url` makes SQLAlchemy's URL from what `backend` accepts here.
"""

import re
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

Backend = Literal["sqlite", "postgresql"]
# SQLAlchemy's form: a backend, optionally "+driver", then "://".
_SCHEME = re.compile(r"(?P<backend>\w+)(?:\+\w+)?://")
_PASSWORD = re.compile(r"(?<=://)(?P<user>[^:/@?]*):[^@]*@")


def backend(url: str) -> Backend:
    """The database `url` names; ValueError unless it is an SQLite file or PostgreSQL."""
    scheme = _SCHEME.match(url)
    name = scheme["backend"] if scheme else ""
    if name == "sqlite":
        database = _sqlite_database(url)
        if database in (None, "", ":memory:"):
            raise ValueError("DATABASE_URL must name an SQLite file, as in sqlite:///todochat.db")
        return "sqlite"
    if name in ("postgresql", "postgres"):
        return "postgresql"
    given = scheme.group(0) if scheme else url.partition(":")[0] + "://"
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgresql://, not {given}")


def _sqlite_database(url: str) -> str | None:
    # As SQLAlchemy reads it: the percent-decoded text after "sqlite:///" up to any query.
    rest = url.partition("://")[2]
    if not rest.startswith("/"):
        return None
    return unquote(rest[1:].partition("?")[0])


def sqlite_path(url: str) -> Path | None:
    """The absolute path of the SQLite file `url` names; None for PostgreSQL."""
    if backend(url) != "sqlite":
        return None
    return Path(_sqlite_database(url) or "").resolve()


def anywhere(url: str) -> str:
    """`url` as it reads from any working directory: an SQLite file's path made absolute."""
    path = sqlite_path(url)
    if path is None:
        return url
    query = url.partition("?")[2]
    return f"sqlite:///{path}" + (f"?{query}" if query else "")


def driver_url(url: str) -> str:
    """`url` as the bare driver (libpq or sqlite3) takes it, for bulk tools and benchmarks."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return "postgresql://" + url.partition("://")[2]


def describe(url: str) -> str:
    """Where `url` points, for people: the SQLite file's path, or the URL without password."""
    path = sqlite_path(url)
    return str(path) if path else _PASSWORD.sub(r"\g<user>:***@", url, count=1)
