"""The benchmark run: grow the dataset through the factors, timing every contender at each."""

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.progress import Progress

from todochat.bench.anchors import AgentsSession, LangChainHistory, seed_anchors
from todochat.bench.api import HttpApi
from todochat.bench.contenders import (
    CONVERSATIONS_PAGE,
    Contender,
    Ours,
    PostgresFloor,
    SqliteFloor,
)
from todochat.bench.dataset import TARGET_USER, Shape, background_user
from todochat.bench.seed import analyze, prepare, seed_background, seed_target
from todochat.conversations.store import MessageStore
from todochat.db import sqlite_path

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
    """Seconds per call of `operation`, every contender of the group in every round.

    The contenders take turns call by call, each round starting with the next one, so that
    whatever else the machine does falls on each of them alike and none always follows the
    same one; the collector waits until a call ends, so that one contender's garbage is not
    collected in another's time. A contender whose warm-up calls say it would take longer
    than BUDGET_SECONDS is timed in every k-th round only: fewer samples, spread over the
    whole run all the same.
    """
    samples: dict[str, list[float]] = {c.name: [] for c in group}
    every: dict[str, int] = {}
    for contender in group:
        started = time.perf_counter()
        for _ in range(WARMUP):
            await contender.operations[operation]()
        cost = (time.perf_counter() - started) / WARMUP
        most = max(1, iterations // MIN_SAMPLES)
        every[contender.name] = min(most, max(1, math.ceil(cost * iterations / BUDGET_SECONDS)))
    for iteration in range(iterations):
        start = iteration % len(group)
        for contender in group[start:] + group[:start]:
            if iteration % every[contender.name]:
                continue
            gc.disable()
            try:
                started = time.perf_counter()
                await contender.operations[operation]()
                samples[contender.name].append(time.perf_counter() - started)
            finally:
                gc.enable()
    return samples


# What each read must return alike from todochat and the floor: the rows' keys and text.
_SAME_ROWS: dict[str, tuple[Callable[[Any], list[Any]], Callable[[Any], list[Any]]]] = {
    "history": (
        lambda views: [(m.seq, m.content) for m in reversed(views)],
        lambda rows: [(row[0], row[3]) for row in rows],
    ),
    "conversations": (
        lambda page: [c.id for c in page.items],
        lambda rows: [row[0] for row in rows[:CONVERSATIONS_PAGE]],
    ),
    "tasks": (
        lambda views: [(t.id, t.title) for t in views],
        lambda rows: [(row[0], row[1]) for row in rows],
    ),
    "search": (
        lambda hits: [(h.conversation_id, h.seq, h.task_id) for h in hits],
        lambda rows: [tuple(row[:3]) for row in rows],
    ),
}
_SAME_ROWS["older"] = _SAME_ROWS["history"]


class Differs(Exception):
    """A contender does not return what todochat returns: comparing their times means nothing."""


async def check(lineup: "Lineup") -> None:
    """Before any timing: the floor returns todochat's rows, the anchors its history's texts."""
    for operation, (ours_of, floor_of) in _SAME_ROWS.items():
        ours = ours_of(await lineup.ours.operations[operation]())
        floor = floor_of(await lineup.floor.operations[operation]())
        if not ours or ours != floor:
            raise Differs(f"{operation}: the floor returned {floor[:3]}…, todochat {ours[:3]}…")
    ours_history, _ = _SAME_ROWS["history"]
    newest_first = ours_history(await lineup.ours.operations["history"]())
    history = [text for _, text in reversed(newest_first)]
    for anchor in (lineup.agents, lineup.langchain):
        texts = await anchor.texts()
        if texts != history:
            raise Differs(f"history: {anchor.name} returned other messages than todochat")


async def _time(lineup: "Lineup", iterations: int) -> dict[str, dict[str, Stats]]:
    results: dict[str, dict[str, Stats]] = {c.name: {} for c in lineup.all}
    for operation in ORDER:
        runners = [c for c in lineup.all if operation in c.operations]
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
            await check(lineup)
            measurement.results = await _time(lineup, iterations)
            measurement.history_peak_bytes = await _history_peak(
                lineup.ours, lineup.langchain, shape
            )
            progress.remove_task(bar)
        finally:
            await lineup.close()
        measurements.append(measurement)
    return measurements
