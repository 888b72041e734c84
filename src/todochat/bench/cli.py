"""`todochat bench`: seed a dataset and time todochat against the driver and the anchors."""

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from todochat.bench.dataset import FULL, TINY
from todochat.bench.seed import prepare, seed_background, seed_target
from todochat.config import get_settings
from todochat.db import describe, sqlite_path
from todochat.errors import TodochatError

bench = typer.Typer(help="Benchmarks on an empty DATABASE_URL.", no_args_is_help=True)
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)
Tiny = Annotated[bool, typer.Option(help="A tiny run, to check the benchmark works.")]
Out = Annotated[Path, typer.Option(help="Folder for the results.")]


class Counts(tuple[int, ...]):
    """Whole numbers of at least 1, given on the command line as 1,10,100."""


def _counts(given: str | Counts) -> Counts:
    """The counts `given` lists; a default arrives already parsed."""
    if isinstance(given, Counts):
        return given
    try:
        counts = Counts(int(part) for part in given.split(","))
    except ValueError:
        counts = Counts()
    if not counts or min(counts) < 1:
        raise typer.BadParameter(
            f"{given!r} is not whole numbers of at least 1 separated by commas, such as 1,10,100"
        )
    return counts


def counts_option(description: str) -> Any:
    """An option that takes a comma-separated list of counts."""
    return typer.Option(help=description, parser=_counts, metavar="N,N,...")


FACTORS = Counts((1, 10, 100))
CROWDS = Counts((1, 10, 100))
WORKERS = Counts((1, 2))


@bench.command()
def seed(
    factor: Annotated[int, typer.Option(help="Dataset size as a multiple of 1x.")] = 1,
    tiny: Tiny = False,
) -> None:
    """Fill an empty database with the benchmark dataset at one size."""
    url = get_settings().database_url
    shape = TINY if tiny else FULL
    try:
        asyncio.run(prepare(url))
    except TodochatError as error:
        errors.print(f"Cannot seed: {error}")
        raise typer.Exit(1) from None
    with Progress(console=errors, transient=True) as progress:
        seed_target(url, shape, progress)
        seed_background(url, shape, 0, shape.background_users(factor), progress)
    console.print(
        f"Seeded {describe(url)}: {shape.messages_at(factor):,} messages,"
        f" {shape.tasks_at(factor):,} tasks."
    )


@bench.command()
def run(
    factors: Annotated[Counts, counts_option("Dataset sizes, as multiples of 1x.")] = FACTORS,
    iterations: Annotated[int, typer.Option(help="Timed calls per operation.", min=20)] = 200,
    out: Out = Path("bench-results"),
    tiny: Tiny = False,
) -> None:
    """Seed an empty database size by size, timing todochat, the bare driver and others."""
    # The anchors and the plot need the optional [bench] dependencies: import them on use.
    from todochat.bench import report, runner  # noqa: PLC0415

    url = get_settings().database_url
    backend = "sqlite" if sqlite_path(url) else "postgresql"
    with Progress(console=errors, transient=True) as progress:
        try:
            measurements = asyncio.run(
                runner.run(url, TINY if tiny else FULL, list(factors), iterations, progress)
            )
        except TodochatError as error:
            errors.print(f"Cannot run: {error}")
            raise typer.Exit(1) from None
    report.show(measurements, backend, console)
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(measurements, backend, out / f"{backend}.json")
    report.plot(measurements, backend, out / f"{backend}.png")
    (out / f"{backend}.md").write_text(report.markdown(measurements, backend))
    console.print(f"Wrote {out / backend}.json, .md and .png")


@bench.command("chat")
def chat_turns(
    people: Annotated[Counts, counts_option("How many people talk at once, per run.")] = CROWDS,
    think: Annotated[float, typer.Option(help="Seconds the model takes per call.", min=0)] = 1.0,
    rounds: Annotated[int, typer.Option(help="Times each crowd sends its messages.", min=2)] = 3,
    out: Out = Path("bench-results"),
    tiny: Tiny = False,
) -> None:
    """Chat turns by many people at once, against a local model that takes THINK s per call."""
    from todochat.bench import chat  # noqa: PLC0415

    url = get_settings().database_url
    backend = "sqlite" if sqlite_path(url) else "postgresql"
    crowds = [1, 3] if tiny else list(people)
    think = 0.05 if tiny else think
    try:
        loads = asyncio.run(chat.run(url, crowds, think, rounds))
    except TodochatError as error:
        errors.print(f"Cannot run: {error}")
        raise typer.Exit(1) from None
    console.print(chat.table(loads, backend, think))
    out.mkdir(parents=True, exist_ok=True)
    chat.write_json(loads, backend, think, out / f"chat-{backend}.json")
    (out / f"chat-{backend}.md").write_text(chat.markdown(loads, backend, think))
    console.print(f"Wrote {out / f'chat-{backend}'}.json and .md")


@bench.command("http")
def http_load(
    connections: Annotated[int, typer.Option(help="Connections open at once.", min=1)] = 64,
    seconds: Annotated[int, typer.Option(help="Seconds of load per endpoint.", min=1)] = 30,
    workers: Annotated[Counts, counts_option("uvicorn worker counts, one run each.")] = WORKERS,
    out: Out = Path("bench-results"),
    tiny: Tiny = False,
) -> None:
    """todochat serve and the web floor under wrk's load over loopback, endpoint by endpoint."""
    from todochat.bench import http_load as load  # noqa: PLC0415
    from todochat.bench.wrk import WrkMissing  # noqa: PLC0415

    url = get_settings().database_url
    settings = (
        load.TINY
        if tiny
        else load.Settings(
            connections=connections,
            seconds=seconds,
            workers=workers,
        )
    )
    with Progress(console=errors, transient=True) as progress:
        step = progress.add_task("seeding", total=None)
        try:
            report = load.run(
                url,
                TINY if tiny else FULL,
                settings,
                progress,
                lambda text: progress.update(step, description=text),
            )
        except (TodochatError, load.FloorDiffers, WrkMissing) as error:
            errors.print(f"Cannot run: {error}")
            raise typer.Exit(1) from None
    console.print(load.table(report))
    out.mkdir(parents=True, exist_ok=True)
    load.write_json(report, out / f"http-{report.backend}.json")
    (out / f"http-{report.backend}.md").write_text(load.markdown(report))
    console.print(f"Wrote {out / f'http-{report.backend}'}.json and .md")


@bench.command("rls")
def row_security(
    iterations: Annotated[
        int, typer.Option(help="Timed calls per operation and state.", min=20)
    ] = 200,
    batch: Annotated[int, typer.Option(help="Calls in one state before switching.", min=5)] = 20,
    out: Out = Path("bench-results"),
    tiny: Tiny = False,
) -> None:
    """What row-level security costs on PostgreSQL: the operations with the policies and without,
    on an empty database at 1x, as its owning role (policies do not bind a superuser)."""
    from todochat.bench import rls  # noqa: PLC0415

    url = get_settings().database_url
    if sqlite_path(url) is not None:
        errors.print("Cannot run: row-level security is PostgreSQL's; DATABASE_URL names SQLite.")
        raise typer.Exit(1)
    with Progress(console=errors, transient=True) as progress:
        try:
            costs = asyncio.run(rls.run(url, TINY if tiny else FULL, iterations, batch, progress))
        except (TodochatError, rls.NotBound) as error:
            errors.print(f"Cannot run: {error}")
            raise typer.Exit(1) from None
    console.print(rls.table(costs))
    out.mkdir(parents=True, exist_ok=True)
    (out / "rls-postgresql.json").write_text(json.dumps(rls.as_json(costs), indent=2) + "\n")
    (out / "rls-postgresql.md").write_text(rls.markdown(costs))
    console.print(f"Wrote {out / 'rls-postgresql'}.json and .md")
