"""The `todochat` command line."""

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from todochat import migrate
from todochat.config import get_settings
from todochat.db import describe

app = typer.Typer(
    help="todochat: the backend of an AI assistant for your to-do list.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db = typer.Typer(
    help="Create and migrate the database named by DATABASE_URL.", no_args_is_help=True
)
app.add_typer(db, name="db")
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def _database_url() -> str:
    return get_settings().database_url


def _report_revision(url: str) -> None:
    revision = asyncio.run(migrate.current(url))
    state = "up to date" if revision == migrate.head() else f"head is {migrate.head()}"
    console.print(f"Database {describe(url)} is at revision {revision or 'base'} ({state}).")


@db.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create the database if needed and migrate it up to REVISION."""
    url = _database_url()
    migrate.upgrade(url, revision)
    _report_revision(url)


@db.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or base.")]) -> None:
    """Migrate the database down to REVISION."""
    url = _database_url()
    migrate.downgrade(url, revision)
    _report_revision(url)


@db.command()
def current() -> None:
    """Show the revision the database is at."""
    _report_revision(_database_url())


@db.command()
def check() -> None:
    """Exit non-zero unless the database is at head and matches the models."""
    url = _database_url()
    try:
        migrate.check(url)
    except migrate.SchemaDrift as drift:
        errors.print(f"Schema drift in {describe(url)}: {drift}")
        raise typer.Exit(1) from None
    console.print(f"Database {describe(url)} matches the models.")


@db.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What it changes.")],
) -> None:
    """Write a new migration from the difference between the database and the models."""
    migrate.revision(_database_url(), message)
