"""`todochat bench http`: the API as clients meet it, over real HTTP, many connections at once.

`todochat serve` runs as its own process (1 uvicorn worker, then 2) and wrk loads it over
loopback, endpoint by endpoint; then the web floor (`web_floor`) is served the same way and gets
the same load. One server runs at a time. Before any load, both answer the same requests and
their JSON must be equal.
"""

import asyncio
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from rich.table import Table

from todochat.bench import statements, wrk
from todochat.bench.contenders import MEASURED, PAGE
from todochat.bench.dataset import TARGET_USER, Shape
from todochat.bench.seed import analyze, prepare, seed_users
from todochat.bench.serving import Served, clean_env
from todochat.bench.web_floor import PLAN, Plan
from todochat.db import create_engine, driver_url, sqlite_path
from todochat.db.engine import POOL_SIZE
from todochat.db.urls import anywhere
from todochat.protocol import event_loop
from todochat.users.tokens import issue_token

TODOCHAT = "todochat"
FLOOR = "web floor"
ENDPOINTS = ("history", "tasks", "create_task")
TITLE = "Renew the passport before the trip"
# The floor may keep as many connections as todochat's read pool does.
FLOOR_POOL = POOL_SIZE


@dataclass(frozen=True)
class Settings:
    """How hard and how long to load each endpoint."""

    connections: int = 64
    seconds: float = 30
    warmup_seconds: float = 5
    workers: tuple[int, ...] = (1, 2)


TINY = Settings(connections=4, seconds=1, warmup_seconds=1, workers=(1, 2))


@dataclass(frozen=True)
class Run:
    """One server under load on one endpoint."""

    server: str
    workers: int
    endpoint: str
    load: wrk.Load
    cpu_seconds: float  # what the server's processes spent, all of them, during the load

    @property
    def cpu_ms_per_request(self) -> float:
        """The server's CPU time per answered request: unlike requests per second, barely
        moved by whatever else the machine runs."""
        return 1000 * self.cpu_seconds / max(1, self.load.requests)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of process `pid` and every process under it, from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        process = int(stat.parent.name)
        parents[process] = int(fields[1])
        times[process] = (int(fields[11]) + int(fields[12])) / tick
    tree = {pid}
    while grown := {p for p, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    return sum(times.get(p, 0.0) for p in tree)


@dataclass(frozen=True)
class Report:
    """A whole `bench http` run."""

    backend: str
    settings: Settings
    load_before: tuple[float, float, float]  # the machine's load averages (1, 5, 15 min)
    load_after: tuple[float, float, float]
    runs: list[Run]

    def find(self, server: str, workers: int, endpoint: str) -> Run:
        """How `server` did on `endpoint` with `workers` workers."""
        return next(
            run
            for run in self.runs
            if (run.server, run.workers, run.endpoint) == (server, workers, endpoint)
        )


def floor_plan(url: str) -> Plan:
    """The floor's statements: the very ones todochat's stores run for these requests."""
    dialect = create_engine(url).dialect  # no connection is made
    path = sqlite_path(url)
    read = statements.reads(dialect)
    return Plan(
        backend=dialect.name,
        database=str(path) if path is not None else driver_url(url),
        pool=FLOOR_POOL,
        history=read["history"],
        tasks=read["tasks"],
        next_task=statements.next_task(dialect),
        insert_task=statements.insert_task(dialect),
        create_task=statements.create_task(dialect) if dialect.name == "postgresql" else None,
    )


def creators(connections: int) -> list[str]:
    """The users who create tasks: one per connection, so that no one user's row lock (which
    hands out task numbers) makes every server wait alike."""
    return [f"bench-creator-{n:03d}" for n in range(connections)]


class _Requests:
    """The requests of each endpoint, as wrk scripts and as one-off calls."""

    def __init__(self, secret: str, settings: Settings) -> None:
        def bearer(user: str) -> dict[str, str]:
            token = issue_token(secret, user, lifetime=timedelta(hours=2))
            return {"Authorization": f"Bearer {token}"}

        self.reader = bearer(TARGET_USER)
        self.paths = {
            "history": f"/api/{TARGET_USER}/conversations/{MEASURED}/messages?limit={PAGE}",
            "tasks": f"/api/{TARGET_USER}/tasks?status=pending&limit={PAGE}",
        }
        self.creators = [
            (f"/api/{user}/tasks", {**bearer(user), "Content-Type": "application/json"})
            for user in creators(settings.connections)
        ]
        self.body = json.dumps({"title": TITLE})

    def script(self, endpoint: str) -> tuple[str, str]:
        """The path to load and the Lua that loads it."""
        if endpoint == "create_task":
            return self.creators[0][0], wrk.post_script(self.creators, self.body)
        return self.paths[endpoint], wrk.get_script(self.reader)

    def answers(self, base_url: str) -> dict[str, Any]:
        """Each endpoint's answer, once; what varies between calls (numbers, times) left out."""
        with httpx.Client(base_url=base_url, timeout=30) as http:
            found: dict[str, Any] = {}
            for endpoint, path in self.paths.items():
                response = http.get(path, headers=self.reader)
                found[endpoint] = (response.status_code, response.json())
            path, headers = self.creators[0]
            created = http.post(path, content=self.body, headers=headers)
            task = created.json()
            found["create_task"] = (
                created.status_code,
                {k: v for k, v in task.items() if k not in ("id", "created_at", "updated_at")},
                list(task),
            )
        return found


class FloorDiffers(Exception):
    """The web floor does not answer what todochat answers: its figures would mean nothing."""


@contextmanager
def _serving(server: str, env: dict[str, str], folder: Path, workers: int) -> Iterator[Served]:
    log = folder / f"{server.replace(' ', '-')}-{workers}.log"
    arguments = ("--workers", str(workers))  # todochat serve picks its event loop by them
    if server == TODOCHAT:
        served = Served(env, folder, log, *arguments)
    else:
        served = Served(
            env,
            folder,
            log,
            *arguments,
            "--factory",
            f"--loop={event_loop(workers)}",  # as todochat serve runs
            "--no-access-log",
            "--log-level=warning",
            program=("-m", "uvicorn", "todochat.bench.web_floor:create_app"),
        )
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


def run(
    url: str,
    shape: Shape,
    settings: Settings,
    progress: Progress,
    report_step: Callable[[str], None] = lambda _: None,
) -> Report:
    """Seed the empty database at `url`, then load todochat and the web floor in turn."""
    binary = wrk.ensure_wrk()
    asyncio.run(prepare(url))
    users = [(TARGET_USER, shape.tasks, shape.target_lengths)]
    seed_users(url, users + [(user, 0, []) for user in creators(settings.connections)], progress)
    asyncio.run(analyze(url))
    secret = secrets.token_urlsafe(48)
    requests = _Requests(secret, settings)
    load_before = os.getloadavg()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        plan = folder / "floor.json"
        floor_plan(url).write(plan)
        env = clean_env(
            DATABASE_URL=anywhere(url),  # the server runs in a folder of its own
            BETTER_AUTH_SECRET=secret,
            RATE_LIMIT_WRITES="0",  # one budget per user; the floor has none
            **{PLAN: str(plan)},
        )
        reference: dict[str, Any] | None = None
        for round_number, workers in enumerate(settings.workers):
            # Each worker count starts with the other server than the one before.
            order = [TODOCHAT, FLOOR] if round_number % 2 == 0 else [FLOOR, TODOCHAT]
            for server in order:
                with _serving(server, env, folder, workers) as served:
                    answers = requests.answers(served.url)
                    if reference is None:
                        reference = answers
                    elif answers != reference:
                        raise FloorDiffers(
                            f"{server} with {workers} workers answered {answers}, not {reference}"
                        )
                    for endpoint in ENDPOINTS:
                        report_step(f"{server}, {workers} worker(s): {endpoint}")
                        path, script = requests.script(endpoint)
                        target = served.url + path
                        wrk.run(
                            binary,
                            target,
                            script,
                            connections=settings.connections,
                            seconds=settings.warmup_seconds,
                            folder=folder,
                        )
                        spent = cpu_seconds(served.process.pid)
                        load = wrk.run(
                            binary,
                            target,
                            script,
                            connections=settings.connections,
                            seconds=settings.seconds,
                            folder=folder,
                        )
                        spent = cpu_seconds(served.process.pid) - spent
                        runs.append(Run(server, workers, endpoint, load, spent))
    backend = "sqlite" if sqlite_path(url) else "postgresql"
    return Report(backend, settings, load_before, os.getloadavg(), runs)


def _rows(report: Report) -> list[list[tuple[str, str]]]:
    rows = []
    for workers in report.settings.workers:
        for endpoint in ENDPOINTS:
            ours_run = report.find(TODOCHAT, workers, endpoint)
            floor_run = report.find(FLOOR, workers, endpoint)
            ours, floor = ours_run.load, floor_run.load
            rows.append(
                [
                    ("endpoint", endpoint),
                    ("workers", str(workers)),
                    ("todochat req/s", f"{ours.per_second:,.0f}"),
                    ("floor req/s", f"{floor.per_second:,.0f}"),
                    ("ours / floor", f"{ours.per_second / floor.per_second:.2f}x"),
                    ("todochat p50/p95/p99 ms", _latencies(ours)),
                    ("floor p50/p95/p99 ms", _latencies(floor)),
                    ("p99 ours / floor", f"{ours.p99_ms / floor.p99_ms:.2f}x"),
                    (
                        "CPU ms/request (ours, floor)",
                        f"{ours_run.cpu_ms_per_request:.2f}, {floor_run.cpu_ms_per_request:.2f}",
                    ),
                    ("errors (ours, floor)", f"{ours.errors}, {floor.errors}"),
                    ("timeouts (ours, floor)", f"{ours.timeouts}, {floor.timeouts}"),
                ]
            )
    return rows


def _latencies(load: wrk.Load) -> str:
    return f"{load.p50_ms:.1f} / {load.p95_ms:.1f} / {load.p99_ms:.1f}"


def _title(report: Report) -> str:
    s = report.settings
    before = ", ".join(f"{x:.2f}" for x in report.load_before)
    after = ", ".join(f"{x:.2f}" for x in report.load_after)
    return (
        f"{report.backend}: {s.connections} connections for {s.seconds:g} s per endpoint"
        f" (load average before {before}; after {after})"
    )


def table(report: Report) -> Table:
    """The results, for people."""
    rows = _rows(report)
    result = Table(title=_title(report))
    for column, _ in rows[0]:
        result.add_column(column, justify="right")
    for row in rows:
        result.add_row(*(cell for _, cell in row))
    return result


def markdown(report: Report) -> str:
    """The results as a Markdown table, for the README."""
    rows = _rows(report)
    header = [column for column, _ in rows[0]]
    lines = [
        f"**{_title(report)}**:",
        "",
        "| " + " | ".join(header) + " |",
        "|---" * len(header) + "|",
        *("| " + " | ".join(cell for _, cell in row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def write_json(report: Report, path: Path) -> None:
    """Every figure, for later comparison."""
    path.write_text(json.dumps(asdict(report), indent=2))
