"""What row-level security costs: todochat's operations with the policies and without them.

One dataset, seeded once; its policies dropped and created again by their migration between
rounds, whose order alternates, so that whatever else the machine does falls on both alike.
It runs as the database's owner: superusers and BYPASSRLS roles are not bound by policies, so
they would measure nothing.
"""

import asyncio
import statistics
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from rich.progress import Progress
from rich.table import Table

from todochat import migrate
from todochat.bench.api import HttpApi
from todochat.bench.contenders import Contender, Ours
from todochat.bench.dataset import Shape
from todochat.bench.runner import ORDER, Stats, analyze, sample
from todochat.bench.seed import prepare, seed_background, seed_target
from todochat.db import driver_url

POLICIES = "2026_11_25_row_security"
STATES = ("with", "without")


class NotBound(Exception):
    """The role bypasses row-level security: there would be nothing to measure."""


@dataclass(frozen=True)
class Cost:
    """One operation of one contender, with the policies and without: medians in ms."""

    contender: str
    operation: str
    with_policies: Stats
    without: Stats

    @property
    def ratio(self) -> float:
        """With over without."""
        return self.with_policies.median / self.without.median


async def run(
    url: str, shape: Shape, iterations: int, rounds: int, progress: Progress
) -> list[Cost]:
    """Seed the empty database at `url` at 1x, then time each operation with and without the
    policies, `iterations` calls per round, over `rounds` rounds."""
    await asyncio.to_thread(_refuse_unbound, url)
    await prepare(url)
    seed_target(url, shape, progress)
    seed_background(url, shape, 0, shape.background_users(1), progress)
    await analyze(url)
    taken: dict[tuple[str, str, str], list[float]] = {}
    bar = progress.add_task("measuring", total=rounds * len(STATES))
    for round_ in range(rounds):
        for state in STATES if round_ % 2 == 0 else reversed(STATES):
            await asyncio.to_thread(_policies, url, on=state == "with")
            for contender, operation, seconds in await _measure(url, shape, iterations):
                taken.setdefault((contender, operation, state), []).extend(seconds)
            progress.advance(bar)
    await asyncio.to_thread(_policies, url, on=True)
    return [
        Cost(
            contender,
            operation,
            Stats.of(taken[(contender, operation, "with")]),
            Stats.of(taken[(contender, operation, "without")]),
        )
        for (contender, operation, state) in taken
        if state == "with"
    ]


def _refuse_unbound(url: str) -> None:
    with psycopg.connect(driver_url(url)) as connection:
        row = connection.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    if row is None or row[0]:
        raise NotBound(
            "row-level security does not bind this role (a superuser, or BYPASSRLS):"
            " run as a role that owns the database"
        )


def _policies(url: str, *, on: bool) -> None:
    if on:
        migrate.upgrade(url)
    else:
        scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
        below = scripts.get_revision(POLICIES)
        assert below is not None
        migrate.downgrade(url, str(below.down_revision))


async def _measure(url: str, shape: Shape, iterations: int) -> list[tuple[str, str, list[float]]]:
    api = HttpApi(url, shape)
    contenders: list[Contender] = [Ours(url, shape), api]
    await api.start()
    try:
        found = []
        for operation in ORDER:
            for contender in contenders:
                if operation in contender.operations:
                    seconds = (await sample([contender], operation, iterations))[contender.name]
                    found.append((contender.name, operation, seconds))
        return found
    finally:
        for contender in contenders:
            await contender.close()


def table(costs: list[Cost]) -> Table:
    """The costs for people."""
    out = Table(title="Row-level security on PostgreSQL: median ms (p95) with and without")
    for column in ("contender", "operation", "with", "without", "with / without"):
        out.add_column(column, justify="right")
    for cost in costs:
        out.add_row(
            cost.contender,
            cost.operation,
            f"{cost.with_policies.median:.3f} ({cost.with_policies.p95:.3f})",
            f"{cost.without.median:.3f} ({cost.without.p95:.3f})",
            f"{cost.ratio:.3f}x",
        )
    return out


def markdown(costs: list[Cost]) -> str:
    """The costs as a Markdown table."""
    lines = [
        "| contender | operation | with (p95) | without (p95) | with / without |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.contender} | {c.operation} | {c.with_policies.median:.3f}"
        f" ({c.with_policies.p95:.3f}) | {c.without.median:.3f} ({c.without.p95:.3f})"
        f" | {c.ratio:.3f}x |"
        for c in costs
    ]
    overall = statistics.geometric_mean(c.ratio for c in costs)
    return "\n".join([*lines, "", f"Geometric mean of with / without: {overall:.3f}x", ""])


def as_json(costs: list[Cost]) -> list[dict[str, Any]]:
    """The costs for machines."""
    return [{**asdict(cost), "ratio": cost.ratio} for cost in costs]
