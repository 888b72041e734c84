"""The benchmark run: grow the dataset through the factors, timing every contender at each."""

import gc
import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.progress import Progress
from sqlalchemy import text

from todochat.bench.anchors import AgentsSession, LangChainHistory, seed_anchors
from todochat.bench.api import HttpApi
from todochat.bench.contenders import Contender, Ours, PostgresFloor, SqliteFloor
from todochat.bench.dataset import TARGET_USER, Shape, background_user
from todochat.bench.seed import prepare, seed_background, seed_target
from todochat.conversations.store import MessageStore
from todochat.db import Database, sqlite_path

WARMUP = 5
# An anchor that is slow gets fewer samples rather than hours of run time.
BUDGET_SECONDS = 20.0
MIN_SAMPLES = 15


@dataclass(frozen=True)
class Stats:
    """Latency of one operation by one contender, in milliseconds."""

    median: float
    p95: float
    p99: float
    samples: int

    @classmethod
    def of(cls, seconds: list[float]) -> "Stats":
        """Summarise samples taken in seconds."""
        ms = sorted(s * 1000 for s in seconds)
        quantiles = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(statistics.median(ms), quantiles[94], quantiles[98], len(ms))


@dataclass
class Measurement:
    """Everything measured at one dataset size."""

    factor: int
    messages: int
    tasks: int
    results: dict[str, dict[str, Stats]] = field(default_factory=dict)  # contender -> op -> stats
    history_peak_bytes: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


async def analyze(url: str) -> None:
    """Refresh the planner's statistics of the database at `url`."""
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await database.dispose()


@dataclass
class Lineup:
    """Everyone measured in one round."""

    ours: Ours
    floor: Contender
    api: HttpApi
    agents: AgentsSession
    langchain: LangChainHistory

    @classmethod
    async def on(cls, url: str, shape: Shape) -> "Lineup":
        """The contenders, connected to `url`."""
        floor: Contender = (
            SqliteFloor(url, shape) if sqlite_path(url) else await PostgresFloor.connect(url, shape)
        )
        api = HttpApi(url, shape)
        await api.start()
        return cls(Ours(url, shape), floor, api, AgentsSession(url), LangChainHistory(url))

    @property
    def all(self) -> list[Contender]:
        """In the order they are reported."""
        return [self.ours, self.floor, self.api, self.agents, self.langchain]

    async def close(self) -> None:
        """Close every contender's connections."""
        for contender in self.all:
            await contender.close()


async def sample(group: list[Contender], operation: str, iterations: int) -> dict[str, list[float]]:
    """Seconds per call of `operation`, the group's contenders interleaved round by round.

    Interleaving makes whatever else the machine does fall on each of them alike; each round
    starts with the next contender, so none always follows the same one; and the collector
    waits until a call ends, so one contender's garbage is not collected in another's time.
    """
    samples: dict[str, list[float]] = {c.name: [] for c in group}
    for contender in group:
        for _ in range(WARMUP):
            await contender.operations[operation]()
    for iteration in range(iterations):
        start = iteration % len(group)
        for contender in group[start:] + group[:start]:
            taken = samples[contender.name]
            if len(taken) >= MIN_SAMPLES and sum(taken) > BUDGET_SECONDS:
                continue
            gc.disable()
            try:
                started = time.perf_counter()
                await contender.operations[operation]()
                taken.append(time.perf_counter() - started)
            finally:
                gc.enable()
    return samples


async def _time(lineup: "Lineup", iterations: int) -> dict[str, dict[str, Stats]]:
    results: dict[str, dict[str, Stats]] = {c.name: {} for c in lineup.all}
    for operation in ORDER:
        # todochat and the floor share rounds: their ratio is the one that must be exact.
        # Each anchor runs apart, so that its heavy calls do not slow the others' next ones.
        groups: list[list[Contender]] = [
            [lineup.ours, lineup.floor],
            [lineup.api],
            [lineup.agents],
            [lineup.langchain],
        ]
        for group in groups:
            runners = [c for c in group if operation in c.operations]
            if runners:
                for name, taken in (await sample(runners, operation, iterations)).items():
                    results[name][operation] = Stats.of(taken)
    return results


ORDER = ["history", "older", "conversations", "turn", "tasks", "create_task", "search"]


async def _history_peak(ours: Ours, anchor: LangChainHistory, shape: Shape) -> dict[str, int]:
    """Peak Python memory reading the latest 50 messages of a short and of a long conversation.

    Both reads return the same number of messages: flat memory means the length of the
    conversation costs nothing.
    """

    async def peak(read: Any) -> int:
        tracemalloc.start()
        try:
            await read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    async def ours_of(user_id: str) -> object:
        async with ours.database.read(user_id) as session:
            return await MessageStore(session, user_id).latest(1)

    return {
        f"todochat, {shape.user_messages:,}-message conversation": await peak(
            lambda: ours_of(background_user(0))
        ),
        f"todochat, {shape.deep_messages:,}-message conversation": await peak(
            lambda: ours_of(TARGET_USER)
        ),
        f"{anchor.name}, {shape.deep_messages:,}-message conversation": await peak(
            anchor.operations["history"]
        ),
    }


async def run(
    url: str, shape: Shape, factors: list[int], iterations: int, progress: Progress
) -> list[Measurement]:
    """Seed the empty database at `url` factor by factor, measuring at each."""
    await prepare(url)
    seed_target(url, shape, progress)
    lineup = await Lineup.on(url, shape)
    await lineup.agents.create_tables()
    await lineup.langchain.create_tables()
    await lineup.close()
    seed_anchors(url, shape, 0, 0, target=True, progress=progress)
    measurements = []
    seeded = 0
    for factor in factors:
        users = shape.background_users(factor)
        if users > seeded:
            seed_background(url, shape, seeded, users, progress)
            seed_anchors(url, shape, seeded, users, target=False, progress=progress)
            seeded = users
        await analyze(url)
        lineup = await Lineup.on(url, shape)
        try:
            bar = progress.add_task(f"measuring at {factor}x", total=None)
            measurement = Measurement(factor, shape.messages_at(factor), shape.tasks_at(factor))
            measurement.results = await _time(lineup, iterations)
            measurement.history_peak_bytes = await _history_peak(
                lineup.ours, lineup.langchain, shape
            )
            progress.remove_task(bar)
        finally:
            await lineup.close()
        measurements.append(measurement)
    return measurements
