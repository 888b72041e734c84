"""The `todochat` command line.

Each command imports what it needs in its body, so that each starts without loading what the
others use: `todochat token` and `todochat db current` load neither the server nor SQLAlchemy,
`todochat --help` little but Typer, and only `todochat bench` loads the benchmark. Lines a
script may read (a token, a link, a revision) are printed plainly, never wrapped to a width.
"""

import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from rich.progress import Progress

    from todochat.config import Settings
    from todochat.db import Database

app = typer.Typer(
    help="todochat: the backend of an AI assistant for your to-do list.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db = typer.Typer(
    help="Create and migrate the database named by DATABASE_URL.", no_args_is_help=True
)
app.add_typer(db, name="db")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOCAL_USER = "local"
TOKEN_HOURS = 24
Done = TypeVar("Done")
HostOption = Annotated[str, typer.Option(help="Interface the server listens on.")]
PortOption = Annotated[int, typer.Option(help="Port the server listens on.")]


def say(line: str) -> None:
    """Print a line on standard output as it is: no markup, no wrapping."""
    typer.echo(line)


def fail(message: str) -> NoReturn:
    """Print `message` on standard error and exit with status 1."""
    typer.echo(message, err=True)
    raise typer.Exit(1)


@contextmanager
def _failing(what: str) -> Iterator[None]:
    """Tell a todochat error on standard error, after `what`, and exit with status 1."""
    from todochat.errors import TodochatError

    try:
        yield
    except TodochatError as error:
        fail(f"{what}: {error}")


def _progress() -> "Progress":
    """A progress bar on standard error, gone once the work is done."""
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)


def _settings() -> "Settings":
    from todochat.config import get_settings

    return get_settings()


def _revision(url: str) -> str | None:
    """The revision of the database at `url`; when it cannot be read, say so and exit."""
    import asyncio

    from todochat import migrate
    from todochat.db.urls import describe

    with _failing(f"Cannot read the revision of {describe(url)}"):
        return asyncio.run(migrate.current(url))


def _report_revision(url: str) -> None:
    from todochat import migrate
    from todochat.db.urls import describe

    revision, head = _revision(url), migrate.head()
    state = "up to date" if revision == head else f"head is {head}"
    say(f"Database {describe(url)} is at revision {revision or 'base'} ({state}).")


@db.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create the database if needed (the SQLite file, or the PostgreSQL database if the role
    may) and migrate it up to REVISION."""
    from todochat import migrate
    from todochat.db.urls import describe

    url = _settings().database_url
    with _failing(f"Cannot upgrade {describe(url)}"):
        migrate.create_database(url)
        migrate.upgrade(url, revision)
    _report_revision(url)


@db.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or base.")]) -> None:
    """Migrate the database down to REVISION."""
    from todochat import migrate
    from todochat.db.urls import describe

    url = _settings().database_url
    with _failing(f"Cannot downgrade {describe(url)}"):
        migrate.downgrade(url, revision)
    _report_revision(url)


@db.command()
def current() -> None:
    """Show the revision the database is at."""
    _report_revision(_settings().database_url)


@db.command()
def check() -> None:
    """Exit non-zero unless the database is at head and matches the models."""
    from todochat import migrate
    from todochat.db.urls import describe
    from todochat.errors import SchemaDrift

    url = _settings().database_url
    with _failing(f"Cannot check {describe(url)}"):
        try:
            migrate.check(url)
        except SchemaDrift as drift:
            fail(f"Schema drift in {describe(url)}: {drift}")
    say(f"Database {describe(url)} matches the models.")


@db.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What it changes.")],
) -> None:
    """Write a new migration from the difference between the database and the models."""
    from todochat import migrate

    migrate.revision(_settings().database_url, message)


def _prepare(url: str) -> None:
    """Migrate the embedded SQLite database; refuse an out-of-date PostgreSQL one."""
    from todochat import migrate
    from todochat.db.urls import describe, sqlite_path

    if sqlite_path(url) is not None:
        with _failing(f"Cannot upgrade {describe(url)}"):
            migrate.upgrade(url)
    elif (revision := _revision(url)) != migrate.head():
        fail(
            f"The database {describe(url)} is at revision {revision or 'base'}, not"
            f" {migrate.head()}: run `todochat db upgrade` first."
        )


def _chat_link(host: str, port: int, token: str) -> str:
    """The web chat address that signs in with `token` (the fragment never reaches a server)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = DEFAULT_HOST  # listening everywhere: this machine's browser reaches it on loopback
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/#token={token}"


def _uses_local_secret(settings: "Settings") -> bool:
    """Whether tokens are signed with the secret generated beside the embedded database."""
    from todochat.db.urls import sqlite_path

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
    import uvicorn

    from todochat import logs
    from todochat.app import create_app
    from todochat.db.urls import describe
    from todochat.protocol import BoundedHeadProtocol, event_loop
    from todochat.users.tokens import issue_token, shared_secret

    settings = _settings()
    url = settings.database_url
    _prepare(url)
    try:
        application = create_app(settings)
        secret = shared_secret(settings)  # made now, so `todochat token` and the server agree
    except ValueError as error:
        fail(f"Cannot start: {error}")
    logs.configure()
    say(f"todochat on http://{host}:{port} with the database {describe(url)}")
    if secret is not None and _uses_local_secret(settings):
        token = issue_token(secret, LOCAL_USER, lifetime=timedelta(hours=TOKEN_HOURS))
        say(
            f"Chat in your browser as {LOCAL_USER!r} (the link works for {TOKEN_HOURS} hours;"
            " `todochat token USER --url` makes more):"
        )
        say(_chat_link(host, port, token))
    uvicorn.run(
        # Several workers each build the application themselves, from the environment.
        application if workers == 1 else "todochat.app:served",
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        http=BoundedHeadProtocol,
        loop=event_loop(workers),
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
    from todochat.users.tokens import issue_token, shared_secret

    try:
        secret = shared_secret(_settings())
    except ValueError as error:
        fail(f"Cannot sign: {error}")
    if secret is None:
        fail("Tokens come from your Better Auth server when BETTER_AUTH_JWKS_URL is set.")
    signed = issue_token(secret, user_id, lifetime=timedelta(hours=hours))
    say(_chat_link(host, port, signed) if url else signed)


@app.command("mcp")
def mcp_stdio(
    user: Annotated[str, typer.Option("--user", help="The user whose tasks the tools manage.")],
) -> None:
    """Serve the task tools over stdio, for desktop MCP clients."""
    import asyncio

    from todochat.db import Database
    from todochat.mcp.stdio import serve_stdio
    from todochat.users.auth import Identity
    from todochat.users.models import UserProfile

    settings = _settings()
    _prepare(settings.database_url)
    # stdout carries the protocol: nothing else may be printed there.
    database = Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    asyncio.run(serve_stdio(database, Identity(user, UserProfile())))


def _age(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if match is None:
        raise typer.BadParameter("give an age such as 30d, 12h or 90m")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def _many(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _on_database(url: str, work: Callable[["Database"], Awaitable[Done]]) -> Done:
    """What `work` does with a pool on `url`, closed afterwards."""
    import asyncio

    from todochat.db import Database

    async def run() -> Done:
        database = Database(url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


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
    batch: Annotated[
        int | None,
        typer.Option(help="Rows per transaction (by default, the retention job's batch).", min=1),
    ] = None,
) -> None:
    """Delete for good the conversations and messages soft-deleted before a cutoff."""
    from todochat.orm import utcnow
    from todochat.retention import BATCH, Retention, Summary

    url = _settings().database_url
    _prepare(url)
    before = utcnow() - older_than

    async def run(database: "Database") -> Summary:
        retention = Retention(database, batch=batch or BATCH)
        expected = await retention.count(before)
        if dry_run:
            return expected
        with _progress() as progress:
            bar = progress.add_task("purging", total=expected.rows)
            return await retention.purge(before, lambda rows: progress.advance(bar, rows))

    summary = _on_database(url, run)
    say(
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
    from todochat.transfer.export import export_pages, export_size

    url = _settings().database_url
    _prepare(url)
    partial = out.with_name(out.name + ".partial") if out else None

    async def run(database: "Database") -> int:
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
            _progress() as progress,
        ):
            written = _on_database(url, run)
        if partial and out:
            partial.replace(out)
            say(f"Exported {_many(written, 'row')} of user {user} to {out}.")
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
    from todochat.transfer.load import import_lines

    url = _settings().database_url
    _prepare(url)
    with (
        _failing(f"Cannot import {file}, nothing was written"),
        file.open("rb") as lines,
        _progress() as progress,
    ):
        bar = progress.add_task("importing", total=file.stat().st_size)
        imported = _on_database(
            url,
            lambda database: import_lines(
                database,
                lines,
                as_user=as_user,
                progress=lambda size: progress.advance(bar, size),
            ),
        )
    say(
        f"Imported {_many(imported.tasks, 'task')}, {_many(imported.conversations, 'conversation')}"
        f" and {_many(imported.messages, 'message')} for user {imported.user_id}."
    )


@app.command()
def chat(
    user: Annotated[str, typer.Option("--user", help="Whose tasks the assistant manages.")],
    new: Annotated[bool, typer.Option(help="Start a new conversation.")] = False,
) -> None:
    """Talk to the assistant in the terminal; the latest conversation resumes."""
    import asyncio

    from rich.console import Console

    from todochat.chat.terminal import talk

    settings = _settings()
    _prepare(settings.database_url)
    asyncio.run(talk(settings, user, new=new, console=Console(highlight=False)))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(context: typer.Context) -> None:
    """Benchmarks on an empty DATABASE_URL, with the bench extra installed."""
    # The benchmark is no part of the product: it loads only when asked for.
    from todochat.bench.cli import bench as commands

    typer.main.get_group(commands)(context.args, prog_name=context.command_path)
