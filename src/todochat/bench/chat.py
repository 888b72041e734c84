"""`todochat bench chat`: many people talking at once to an assistant whose model takes seconds.

`todochat serve` runs as its own process, its assistant on the local model server (a process of
its own too, as a real model is, so that its work is not the load generator's); each person
asks to add a task (a tool call, then the answer: two model calls). Meanwhile another user lists
their tasks over and over, to show what a turn in progress costs everyone else.

Beside one person's turns, in the same rounds, the Agents SDK runs alone: todochat's agent and
model client on the same model server, in this process, with no server around it and tools that
answer at once. What it costs is the part of a turn's cost that is the SDK's and its client's.
"""

import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from todochat import migrate
from todochat.bench.serving import Served, clean_env
from todochat.chat.agent import AgentsAssistant, agents_assistant
from todochat.chat.tools import JsonResult, TaskTools, ToolCall
from todochat.config import Settings
from todochat.db.urls import anywhere
from todochat.users.tokens import issue_token

MODEL_CALLS_PER_TURN = 2  # the tool call, then the answer
MESSAGE = "add renew the passport"
MODEL = "bench-model"


@dataclass(frozen=True)
class ChatLoad:
    """What `people` people sending one message each at once saw, over some rounds."""

    people: int
    turns: list[float]  # seconds, every turn of every round
    batches: list[float]  # seconds from the first message sent to the last answer, per round
    reads: list[float]  # seconds, the unrelated user's task listings meanwhile
    failures: int  # turns not answered 200
    # seconds the model server held each call, as it measured them: its sleep overshoots the
    # think time (by 0.2-0.4 ms at 1-2 s), which is the model's time, not todochat's
    model_calls: list[float]
    # With one person: the Agents SDK alone, a turn between each two of todochat's
    sdk_alone: list[float] = field(default_factory=list)
    sdk_alone_model_calls: list[float] = field(default_factory=list)


def _ms(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))]


class _Users:
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def new(self) -> tuple[str, dict[str, str]]:
        user_id = f"bench-{uuid.uuid4().hex[:12]}"
        token = issue_token(self._secret, user_id, lifetime=timedelta(hours=2))
        return user_id, {"Authorization": f"Bearer {token}"}


async def _turn(http: httpx.AsyncClient, user: tuple[str, dict[str, str]]) -> tuple[float, bool]:
    user_id, headers = user
    started = time.perf_counter()
    response = await http.post(f"/api/{user_id}/chat", json={"message": MESSAGE}, headers=headers)
    return time.perf_counter() - started, response.status_code == 200


class _AtOnce(TaskTools):
    """todochat's task tools with no database behind them: a call answers at once, as adding
    the task would."""

    def __init__(self) -> None:  # no database, user or conversation to act on
        self.calls: list[ToolCall] = []

    async def call(self, name: str, arguments: Mapping[str, Any] | str) -> JsonResult:
        """Answer as if the task were added."""
        called = ToolCall(
            name, json.loads(arguments) if isinstance(arguments, str) else {**arguments}
        )
        called.result = {"task_id": len(self.calls) + 1, "status": "created", **called.arguments}
        self.calls.append(called)
        return called.result


async def _sdk_turn(
    assistant: AgentsAssistant, http: httpx.AsyncClient, model_url: str
) -> tuple[float, list[float]]:
    """One turn of the Agents SDK alone: its seconds, and the model server's hold of each call."""
    await _held(http, model_url)  # calls before it are not its
    tools = _AtOnce()
    started = time.perf_counter()
    answer = "".join([piece async for piece in assistant.respond([], MESSAGE, tools, stream=False)])
    spent = time.perf_counter() - started
    if len(tools.calls) != 1 or MESSAGE.removeprefix("add ") not in answer:
        raise RuntimeError(f"the Agents SDK alone answered {answer!r}")
    return spent, await _held(http, model_url)


async def _read_until(
    done: asyncio.Event, http: httpx.AsyncClient, user: tuple[str, dict[str, str]]
) -> list[float]:
    user_id, headers = user
    latencies = []
    while not done.is_set():
        started = time.perf_counter()
        (await http.get(f"/api/{user_id}/tasks", headers=headers)).raise_for_status()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return latencies


async def _held(http: httpx.AsyncClient, model_url: str) -> list[float]:
    """The seconds the model server held each call since it was last asked."""
    response = await http.get(model_url.removesuffix("/v1") + "/held")
    held: list[float] = response.raise_for_status().json()["held"]
    return held


async def _load(
    http: httpx.AsyncClient,
    model_url: str,
    users: _Users,
    people: int,
    rounds: int,
    *,
    sdk: AgentsAssistant,
) -> ChatLoad:
    turns: list[float] = []
    batches: list[float] = []
    reads: list[float] = []
    model_calls: list[float] = []
    alone: list[tuple[float, list[float]]] = []
    failures = 0
    reader = users.new()
    for round_number in range(rounds):
        if people == 1 and round_number % 2 == 0:  # the SDK alone first in every other round
            alone.append(await _sdk_turn(sdk, http, model_url))
        crowd = [users.new() for _ in range(people)]
        # Each person's first request stores them: not part of a turn.
        for user_id, headers in [reader, *crowd]:
            (await http.get(f"/api/{user_id}/tasks", headers=headers)).raise_for_status()
        await _held(http, model_url)  # calls before this round's are not its
        done = asyncio.Event()
        reading = asyncio.create_task(_read_until(done, http, reader))
        started = time.perf_counter()
        results = await asyncio.gather(*(_turn(http, user) for user in crowd))
        batches.append(time.perf_counter() - started)
        done.set()
        reads += await reading
        model_calls += await _held(http, model_url)
        turns += [latency for latency, _ in results]
        failures += sum(not answered for _, answered in results)
        if people == 1 and round_number % 2 == 1:  # and last in the others
            alone.append(await _sdk_turn(sdk, http, model_url))
    sdk_alone = [spent for spent, _ in alone]
    sdk_alone_model_calls = [call for _, held in alone for call in held]
    return ChatLoad(
        people, turns, batches, reads, failures, model_calls, sdk_alone, sdk_alone_model_calls
    )


@contextmanager
def _model_server(think: float) -> Iterator[str]:
    """The local model server in a process of its own; its base URL."""
    command = [sys.executable, "-m", "todochat.bench.model_server", str(think)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        if not base_url:
            raise RuntimeError("the model server did not start")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def run(url: str, people: list[int], think: float, rounds: int) -> list[ChatLoad]:
    """Serve `url` (created and migrated if need be) with the model thinking `think` s per
    call; load it with each crowd size."""
    migrate.create_database(url)
    migrate.upgrade(url)
    secret = secrets.token_urlsafe(48)
    users = _Users(secret)
    with _model_server(think) as model_url, tempfile.TemporaryDirectory() as folder:
        env = clean_env(
            DATABASE_URL=anywhere(url),  # the server runs in a folder of its own
            BETTER_AUTH_SECRET=secret,
            OPENAI_MODEL=MODEL,
            OPENAI_BASE_URL=model_url,
        )
        served = Served(env, Path(folder), Path(folder) / "serve.log")
        try:
            served.wait_ready()
            # An idle connection is let go well before uvicorn closes it (after 5 s): a request
            # sent on one the server is closing that moment would fail, through no fault of either.
            limits = httpx.Limits(
                max_connections=None, max_keepalive_connections=None, keepalive_expiry=1
            )
            sdk = agents_assistant(Settings(openai_model=MODEL, openai_base_url=model_url))
            async with httpx.AsyncClient(base_url=served.url, timeout=120, limits=limits) as http:
                # One turn first, so that no crowd pays for the server's first model call (nor
                # the SDK alone for its own).
                await _turn(http, users.new())
                try:
                    await _sdk_turn(sdk, http, model_url)
                    return [await _load(http, model_url, users, n, rounds, sdk=sdk) for n in people]
                finally:
                    await sdk.close()
        finally:
            served.stop()


def table(loads: list[ChatLoad], backend: str, think: float) -> Table:
    """The results, for people."""
    result = Table(title=f"chat turns on {backend}, model thinking {think:g} s per call")
    for column, *_ in _rows(loads)[0]:
        result.add_column(column, justify="right")
    for row in _rows(loads):
        result.add_row(*(cell for _, cell in row))
    return result


def markdown(loads: list[ChatLoad], backend: str, think: float) -> str:
    """The results as a Markdown table, for the README."""
    rows = _rows(loads)
    header = [column for column, _ in rows[0]]
    lines = [
        f"**chat turns on {backend}**, model thinking {think:g} s per call"
        f" ({MODEL_CALLS_PER_TURN} calls per turn):",
        "",
        "| " + " | ".join(header) + " |",
        "|---" * len(header) + "|",
        *("| " + " | ".join(cell for _, cell in row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def _rows(loads: list[ChatLoad]) -> list[list[tuple[str, str]]]:
    one = next((load for load in loads if load.people == 1), loads[0])
    one_turn = statistics.median(one.turns)
    rows = []
    for load in loads:
        batch = statistics.median(load.batches)
        own_cost = _less_thinking(load.turns, load.model_calls)
        sdk_cost = _less_thinking(load.sdk_alone, load.sdk_alone_model_calls)
        rows.append(
            [
                ("people at once", str(load.people)),
                ("turns/s", f"{load.people / batch:.2f}"),
                ("turn p50 ms", f"{_ms(load.turns, 0.5):.0f}"),
                ("turn p95 ms", f"{_ms(load.turns, 0.95):.0f}"),
                ("model's call p50 ms", f"{_ms(load.model_calls, 0.5):.1f}"),
                ("todochat's cost p50 ms", f"{_ms(own_cost, 0.5):.1f}"),
                (
                    "the Agents SDK alone: cost p50 ms",
                    f"{_ms(sdk_cost, 0.5):.1f}" if sdk_cost else "-",
                ),
                ("batch / one turn", f"{batch / one_turn:.2f}x"),
                ("other user's GET /tasks p95 ms", f"{_ms(load.reads, 0.95):.1f}"),
                ("not 200", str(load.failures)),
            ]
        )
    return rows


def _less_thinking(turns: list[float], model_calls: list[float]) -> list[float]:
    """The turns less the model's think time: what the rest of the turn cost."""
    if not turns:
        return []
    thinking = MODEL_CALLS_PER_TURN * statistics.median(model_calls)
    return [turn - thinking for turn in turns]


def write_json(loads: list[ChatLoad], backend: str, think: float, path: Path) -> None:
    """Every sample, for later comparison."""
    path.write_text(
        json.dumps(
            {"backend": backend, "think": think, "loads": [asdict(load) for load in loads]},
            indent=2,
        )
    )
