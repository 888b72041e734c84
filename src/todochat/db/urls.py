"""Database URLs: as people and Neon write them, as SQLAlchemy and the bare drivers take them."""

from pathlib import Path

from sqlalchemy import URL, make_url


def async_url(url: str) -> URL:
    """The SQLAlchemy URL for a `sqlite:///file` or `postgresql://…` URL as Neon hands it out."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("DATABASE_URL must name an SQLite file, as in sqlite:///todochat.db")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"DATABASE_URL must start with sqlite:/// or postgresql://, not {parsed.drivername}://"
    )


def driver_url(url: str) -> str:
    """`url` as the bare driver (libpq or sqlite3) takes it, for bulk tools and benchmarks."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        return str(sqlite_path(url))
    return target.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The absolute path of the SQLite file `url` names; None for PostgreSQL."""
    target = async_url(url)
    return Path(target.database or "").resolve() if target.get_backend_name() == "sqlite" else None


def describe(url: str) -> str:
    """Where `url` points, for people: the SQLite file's path, or the URL without password."""
    path = sqlite_path(url)
    return str(path) if path else make_url(url).render_as_string(hide_password=True)
