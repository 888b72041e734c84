"""What row-level security costs: todochat's operations with the policies and without them.

One dataset, seeded once. Row-level security is switched on and off (`ALTER TABLE … ENABLE`
/ `DISABLE ROW LEVEL SECURITY`: with it off, the policies bind no one, as before their
migration) between batches of calls, the order alternating, so that whatever else the
machine does falls on both states alike. It runs as the database's owner: superusers and
BYPASSRLS roles are not bound by policies, so they would measure nothing.
"""

import statistics
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
import psycopg.sql
from rich.progress import Progress
from rich.table import Table

from todochat.bench.api import HttpApi
from todochat.bench.contenders import Contender, Ours
from todochat.bench.dataset import Shape
from todochat.bench.runner import ORDER, Stats, sample
from todochat.bench.seed import analyze, prepare, seed_background, seed_target
from todochat.db import driver_url

# The tables the policies bind (migration 2026_11_25_row_security).
SECURED = ("users", "tasks", "conversations", "messages", "idempotency_keys")
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
    url: str, shape: Shape, iterations: int, batch: int, progress: Progress
) -> list[Cost]:
    """Seed the empty database at `url` at 1x, then time each operation `iterations` times in
    each state, switching state every `batch` calls."""
    await prepare(url)
    with psycopg.connect(driver_url(url), autocommit=True) as owner:
        _refuse_unbound(owner)
        seed_target(url, shape, progress)
        seed_background(url, shape, 0, shape.background_users(1), progress)
        await analyze(url)
        api = HttpApi(url, shape)
        contenders: list[Contender] = [Ours(url, shape), api]
        await api.start()
        costs = []
        try:
            pairs = [(o, c) for o in ORDER for c in contenders if o in c.operations]
            bar = progress.add_task("measuring", total=len(pairs))
            for operation, contender in pairs:
                taken: dict[str, list[float]] = {state: [] for state in STATES}
                for turn in range(max(1, iterations // batch)):
                    for state in STATES if turn % 2 == 0 else reversed(STATES):
                        _secure(owner, on=state == "with")
                        seconds = await sample([contender], operation, batch)
                        taken[state] += seconds[contender.name]
                costs.append(
                    Cost(
                        contender.name,
                        operation,
                        Stats.of(taken["with"]),
                        Stats.of(taken["without"]),
                    )
                )
                progress.advance(bar)
        finally:
            _secure(owner, on=True)
            for contender in contenders:
                await contender.close()
    return costs


def _refuse_unbound(owner: psycopg.Connection[Any]) -> None:
    row = owner.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if row is None or row[0]:
        raise NotBound(
            "row-level security does not bind this role (a superuser, or BYPASSRLS):"
            " run as a role that owns the database"
        )


def _secure(owner: psycopg.Connection[Any], *, on: bool) -> None:
    switch = psycopg.sql.SQL("ENABLE" if on else "DISABLE")
    with owner.transaction():
        for table in SECURED:
            owner.execute(
                psycopg.sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY").format(
                    psycopg.sql.Identifier(table), switch
                )
            )


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
