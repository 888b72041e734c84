"""The `todochat` command line."""

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress

from todochat import logs, migrate
from todochat.app import create_app
from todochat.bench.cli import bench
from todochat.chat.terminal import talk
from todochat.config import Settings, get_settings
from todochat.db import Database, describe, sqlite_path
from todochat.errors import TodochatError
from todochat.mcp.stdio import serve_stdio
from todochat.orm import utcnow
from todochat.protocol import BoundedHeadProtocol
from todochat.retention import BATCH, Retention, Summary
from todochat.transfer.export import export_pages, export_size
from todochat.transfer.load import import_lines
from todochat.users.auth import Identity, issue_token, shared_secret
from todochat.users.models import UserProfile

app = typer.Typer(
    help="todochat: the backend of an AI assistant for your to-do list.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db = typer.Typer(
    help="Create and migrate the database named by DATABASE_URL.", no_args_is_help=True
)
app.add_typer(db, name="db")
app.add_typer(bench, name="bench")
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOCAL_USER = "local"
TOKEN_HOURS = 24
Done = TypeVar("Done")
HostOption = Annotated[str, typer.Option(help="Interface the server listens on.")]
PortOption = Annotated[int, typer.Option(help="Port the server listens on.")]


@contextmanager
def _failing(what: str) -> Iterator[None]:
    """Tell a todochat error on standard error, after `what`, and exit with status 1."""
    try:
        yield
    except TodochatError as error:
        errors.print(f"{what}: {error}")
        raise typer.Exit(1) from None


def _database_url() -> str:
    return get_settings().database_url


def _report_revision(url: str) -> None:
    revision = asyncio.run(migrate.current(url))
    state = "up to date" if revision == migrate.head() else f"head is {migrate.head()}"
    console.print(f"Database {describe(url)} is at revision {revision or 'base'} ({state}).")


@db.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create the database if needed (the SQLite file, or the PostgreSQL database if the role
    may) and migrate it up to REVISION."""
    url = _database_url()
    with _failing("Cannot upgrade"):
        migrate.create_database(url)
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
    with _failing(f"Schema drift in {describe(url)}"):
        migrate.check(url)
    console.print(f"Database {describe(url)} matches the models.")


@db.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What it changes.")],
) -> None:
    """Write a new migration from the difference between the database and the models."""
    migrate.revision(_database_url(), message)


def _prepare(url: str) -> None:
    """Migrate the embedded SQLite database; refuse an out-of-date PostgreSQL one."""
    if sqlite_path(url) is not None:
        migrate.upgrade(url)
    elif (revision := asyncio.run(migrate.current(url))) != migrate.head():
        errors.print(
            f"The database {describe(url)} is at revision {revision or 'base'}, not"
            f" {migrate.head()}: run `todochat db upgrade` first."
        )
        raise typer.Exit(1)


def _chat_link(host: str, port: int, token: str) -> str:
    """The web chat address that signs in with `token` (the fragment never reaches a server)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = DEFAULT_HOST  # listening everywhere: this machine's browser reaches it on loopback
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/#token={token}"


def _uses_local_secret(settings: Settings) -> bool:
    """Whether tokens are signed with the secret generated beside the embedded database."""
    return (
        settings.better_auth_secret is None
        and settings.better_auth_jwks_url is None
        and sqlite_path(settings.database_url) is not None
    )


@app.command()
def serve(
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    workers: Annotated[
        int, typer.Option(help="Worker processes (uvicorn's), each with its own pools.", min=1)
    ] = 1,
) -> None:
    """Serve the API and the web chat: migrating the embedded SQLite database on first start."""
    settings = get_settings()
    url = settings.database_url
    _prepare(url)
    try:
        application = create_app(settings)
        secret = shared_secret(settings)  # made now, so `todochat token` and the server agree
    except ValueError as error:
        errors.print(f"Cannot start: {error}")
        raise typer.Exit(1) from None
    logs.configure()
    console.print(f"todochat on http://{host}:{port} with the database {describe(url)}")
    if secret is not None and _uses_local_secret(settings):
        token = issue_token(secret, LOCAL_USER, lifetime=timedelta(hours=TOKEN_HOURS))
        console.print(
            f"Chat in your browser as {LOCAL_USER!r} (the link works for {TOKEN_HOURS} hours;"
            " `todochat token USER --url` makes more):",
            soft_wrap=True,
        )
        console.print(_chat_link(host, port, token), soft_wrap=True, markup=False)
    uvicorn.run(
        # Several workers each build the application themselves, from the environment.
        application if workers == 1 else "todochat.app:served",
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        http=BoundedHeadProtocol,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


@app.command()
def token(
    user_id: Annotated[str, typer.Argument(help="The user the token speaks for.")],
    hours: Annotated[
        float, typer.Option(help="How long the token stays valid.", min=0.01)
    ] = TOKEN_HOURS,
    url: Annotated[bool, typer.Option("--url", help="Print the web chat link instead.")] = False,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
) -> None:
    """Print a bearer token for USER_ID, signed with the configured shared secret."""
    settings = get_settings()
    try:
        secret = shared_secret(settings)
    except ValueError as error:
        errors.print(f"Cannot sign: {error}")
        raise typer.Exit(1) from None
    if secret is None:
        errors.print("Tokens come from your Better Auth server when BETTER_AUTH_JWKS_URL is set.")
        raise typer.Exit(1)
    signed = issue_token(secret, user_id, lifetime=timedelta(hours=hours))
    print(_chat_link(host, port, signed) if url else signed)


@app.command("mcp")
def mcp_stdio(
    user: Annotated[str, typer.Option("--user", help="The user whose tasks the tools manage.")],
) -> None:
    """Serve the task tools over stdio, for desktop MCP clients."""
    settings = get_settings()
    _prepare(settings.database_url)
    # stdout carries the protocol: nothing else may be printed there.
    asyncio.run(serve_stdio(Database(settings.database_url), Identity(user, UserProfile())))


def _age(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if match is None:
        raise typer.BadParameter("give an age such as 30d, 12h or 90m")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def _many(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


async def _on_database(url: str, work: Callable[[Database], Awaitable[Done]]) -> Done:
    """What `work` does with a pool on `url`, closed afterwards."""
    database = Database(url)
    try:
        return await work(database)
    finally:
        await database.dispose()


@app.command()
def purge(
    older_than: Annotated[
        timedelta,
        typer.Option(
            "--older-than",
            parser=_age,
            metavar="AGE",
            help="Purge what was soft-deleted longer ago than this: 30d, 12h, 90m.",
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
    batch: Annotated[int, typer.Option(help="Rows per transaction.", min=1)] = BATCH,
) -> None:
    """Delete for good the conversations and messages soft-deleted before a cutoff."""
    url = _database_url()
    _prepare(url)
    before = utcnow() - older_than

    async def run(database: Database) -> Summary:
        retention = Retention(database, batch=batch)
        expected = await retention.count(before)
        if dry_run:
            return expected
        with Progress(console=errors, transient=True) as progress:
            bar = progress.add_task("purging", total=expected.rows)
            return await retention.purge(before, lambda rows: progress.advance(bar, rows))

    summary = asyncio.run(_on_database(url, run))
    console.print(
        f"{'Would purge' if dry_run else 'Purged'} {_many(summary.conversations, 'conversation')}"
        f" ({_many(summary.conversation_messages, 'message')}) and"
        f" {_many(summary.messages, 'deleted message')}, soft-deleted before"
        f" {before:%Y-%m-%d %H:%M} UTC."
    )


@app.command()
def export(
    user: Annotated[str, typer.Option("--user", help="The user whose data is exported.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="The file to write (default: standard output).")
    ] = None,
) -> None:
    """Write one user's data (tasks, conversations, messages) as JSON Lines."""
    url = _database_url()
    _prepare(url)
    partial = out.with_name(out.name + ".partial") if out else None

    async def run(database: Database) -> int:
        written = 0
        bar = progress.add_task("exporting", total=await export_size(database, user))
        async for page in export_pages(database, user):
            file.write("".join(page).encode())
            written += len(page)
            progress.advance(bar, len(page))
        return written - 2  # the header and the user

    try:
        with (
            _failing("Cannot export"),
            partial.open("wb") if partial else nullcontext(sys.stdout.buffer) as file,
            Progress(console=errors, transient=True) as progress,
        ):
            written = asyncio.run(_on_database(url, run))
        if partial and out:
            partial.replace(out)
            console.print(f"Exported {_many(written, 'row')} of user {user} to {out}.")
    finally:
        if partial:
            partial.unlink(missing_ok=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="An export file.", exists=True, dir_okay=False)],
    as_user: Annotated[
        str | None, typer.Option("--as-user", help="Load it for this user instead.")
    ] = None,
) -> None:
    """Load an export file into an empty account, keeping every number and timestamp."""
    url = _database_url()
    _prepare(url)
    with (
        _failing(f"Cannot import {file}, nothing was written"),
        file.open("rb") as lines,
        Progress(console=errors, transient=True) as progress,
    ):
        bar = progress.add_task("importing", total=file.stat().st_size)
        imported = asyncio.run(
            _on_database(
                url,
                lambda database: import_lines(
                    database,
                    lines,
                    as_user=as_user,
                    progress=lambda size: progress.advance(bar, size),
                ),
            )
        )
    console.print(
        f"Imported {_many(imported.tasks, 'task')}, {_many(imported.conversations, 'conversation')}"
        f" and {_many(imported.messages, 'message')} for user {imported.user_id}."
    )


@app.command()
def chat(
    user: Annotated[str, typer.Option("--user", help="Whose tasks the assistant manages.")],
    new: Annotated[bool, typer.Option(help="Start a new conversation.")] = False,
) -> None:
    """Talk to the assistant in the terminal; the latest conversation resumes."""
    settings = get_settings()
    _prepare(settings.database_url)
    asyncio.run(talk(settings, user, new=new, console=console))
