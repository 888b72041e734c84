"""Chat turns against a real OpenAI-compatible model server, through the real `openai` client.

The model server thinks, hangs and fails on purpose; the turn must hold no database connection
while it does, let other people work meanwhile, and store every turn whole.
"""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url

from tests.conftest import BACKENDS, POSTGRES_ADMIN, ApiUser, say, settings, until
from tests.db.test_faults import kill_connections, write_lock_held
from todochat import migrate
from todochat.app import create_app
from todochat.bench.model_server import Behaviour, ModelServer
from todochat.db import Database, sqlite_path


@pytest.fixture
def model() -> Iterator[ModelServer]:
    """A model server that answers at once until a test changes its behaviour."""
    with ModelServer() as server:
        yield server


@asynccontextmanager
async def serving(
    database_url: str, model: ModelServer, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A fresh application whose assistant is the Agents SDK on the model server."""
    configured = {
        "openai_model": "local-model",
        "openai_base_url": model.base_url,
        "openai_max_retries": 0,
        **overrides,
    }
    app = create_app(settings(database_url, **configured))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30
        ) as client,
    ):
        yield app, client


async def stored(client: httpx.AsyncClient, user: ApiUser, conversation: int) -> list[Any]:
    response = await client.get(
        user.url(f"/conversations/{conversation}/messages?limit=200"), headers=user.headers
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def tasks(client: httpx.AsyncClient, user: ApiUser) -> list[tuple[int, str, bool]]:
    response = await client.get(user.url("/tasks"), headers=user.headers)
    return [(t["id"], t["title"], t["completed"]) for t in response.json()]


def checked_out(database: Database) -> int:
    """Connections taken from either pool and not given back."""
    return sum(
        engine.pool.checkedout()  # type: ignore[attr-defined]
        for engine in (database.engine, database.reading_engine)
    )


def held(model: ModelServer, *, from_call: int = 1) -> threading.Event:
    """Make the model think until the returned event is set."""
    gate = threading.Event()
    model.behaviour = Behaviour(gate=gate, gate_from=from_call)
    return gate


async def test_no_connection_is_checked_out_while_the_model_thinks(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    gate = held(model, from_call=2)  # the tool call runs, then the model thinks
    async with serving(database_url, model) as (app, client):
        turn = asyncio.create_task(say(client, alice, "add buy milk"))
        await until(lambda: len(model.requests) == 2)
        assert checked_out(app.state.database) == 0
        gate.set()
        reply = await turn
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"] == 'Created task 1: "buy milk".'


async def test_other_people_work_while_a_turn_waits_on_its_model(
    database_url: str, model: ModelServer, alice: ApiUser, bob: ApiUser
) -> None:
    gate = held(model)
    async with serving(database_url, model) as (_, client):
        turn = asyncio.create_task(say(client, alice, "add buy milk"))
        await until(lambda: len(model.requests) == 1)
        created = await client.post(bob.url("/tasks"), json={"title": "Bob's"}, headers=bob.headers)
        listed = await client.get(bob.url("/tasks"), headers=bob.headers)
        own = await client.post(alice.url("/tasks"), json={"title": "Own"}, headers=alice.headers)
        assert (created.status_code, listed.status_code, own.status_code) == (201, 200, 201)
        assert not turn.done()
        gate.set()
        assert (await turn).status_code == 200


async def test_a_second_turn_on_a_busy_conversation_is_409_then_succeeds(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    gate = held(model)
    async with serving(database_url, model) as (_, client):
        first = asyncio.create_task(say(client, alice, "add buy milk"))
        await until(lambda: len(model.requests) == 1)
        conversation = 1
        busy = await say(client, alice, "add buy bread", conversation)
        # A turn in another conversation does not wait: both models think at once.
        elsewhere = asyncio.create_task(say(client, alice, "hello"))
        await until(lambda: len(model.requests) == 2)
        gate.set()
        assert (await first).status_code == 200
        after = await say(client, alice, "add buy bread", conversation)
        messages = await stored(client, alice, conversation)
        assert (await elsewhere).json()["conversation_id"] == 2
    assert busy.status_code == 409
    assert busy.json()["error"] == "turn_in_progress"
    assert busy.headers["retry-after"]
    assert after.status_code == 200
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        "add buy milk",
        "add buy bread",
    ]


async def test_a_hanging_model_ends_the_turn_at_its_deadline_with_nothing_half_written(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="hang")
    async with serving(database_url, model, chat_turn_timeout=0.5) as (app, client):
        failed = await say(client, alice, "add buy milk")
        messages = await stored(client, alice, 1)
        model.behaviour = Behaviour()
        retried = await say(client, alice, "add buy milk", 1)
        assert checked_out(app.state.database) == 0
        assert await tasks(client, alice) == [(1, "buy milk", False)]
    assert failed.status_code == 502
    assert failed.json()["error"] == "assistant_unavailable"
    assert "0.5 s" in failed.json()["detail"]
    assert [(m["role"], (m["metadata"] or {}).get("error")) for m in messages] == [
        ("user", None),
        ("assistant", "assistant_unavailable"),
    ]
    assert retried.status_code == 200  # the failed turn let go of the conversation


async def test_a_model_that_hangs_after_a_tool_call_keeps_the_change_with_its_record(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="hang", fail_from=2)
    async with serving(database_url, model, chat_turn_timeout=0.5) as (_, client):
        failed = await say(client, alice, "add buy milk")
        messages = await stored(client, alice, 1)
        assert await tasks(client, alice) == [(1, "buy milk", False)]
    assert failed.status_code == 502
    assert [m["role"] for m in messages] == ["user", "tool", "assistant"]
    assert messages[1]["tool_results"] == [
        {"tool": "add_task", "result": {"task_id": 1, "status": "created", "title": "buy milk"}}
    ]


@pytest.mark.parametrize("failure", ["500", "malformed"])
async def test_a_failing_model_is_a_502_that_names_no_internal_address(
    database_url: str, model: ModelServer, alice: ApiUser, failure: Any
) -> None:
    model.behaviour = Behaviour(failure=failure)
    async with serving(database_url, model) as (_, client):
        reply = await say(client, alice, "hello")
        messages = await stored(client, alice, 1)
    assert reply.status_code == 502
    assert reply.json()["error"] == "assistant_unavailable"
    for text in (reply.text, json.dumps(messages)):
        assert "127.0.0.1" not in text
        assert "/v1" not in text
    assert [m["role"] for m in messages] == ["user", "assistant"]


async def test_failed_model_calls_are_retried_as_configured(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="500")
    async with serving(database_url, model, openai_max_retries=1) as (_, client):
        reply = await say(client, alice, "hello")
    assert reply.status_code == 502
    assert len(model.requests) == 2


async def test_tool_arguments_that_are_not_json_are_a_failed_call_the_model_hears_of(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    # The first call writes arguments that are not JSON; the second answers the tool's error.
    model.behaviour = Behaviour(failure="bad_tool_arguments", fail_to=1)
    async with serving(database_url, model) as (_, client):
        reply = await say(client, alice, "add buy milk")
        assert await tasks(client, alice) == []
    assert reply.status_code == 200, reply.text
    [call] = reply.json()["tool_calls"]
    assert call == {
        "tool": "add_task",
        "arguments": {},
        "result": {"error": "I couldn't do that: the arguments were not a JSON object."},
    }
    assert reply.json()["response"] == (
        "Sorry: I couldn't do that: the arguments were not a JSON object."
    )


async def test_the_model_sees_earlier_tool_calls_with_their_results(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    async with serving(database_url, model) as (_, client):
        first = await say(client, alice, "add buy milk")
        second = await say(client, alice, "complete 1", first.json()["conversation_id"])
    assert second.json()["response"] == 'Completed task 1: "buy milk".'
    seen = model.requests[2]["messages"]  # the second turn's first model call
    assert [m["role"] for m in seen] == ["system", "user", "assistant", "tool", "assistant", "user"]
    call = seen[2]["tool_calls"][0]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "add_task",
        {"title": "buy milk"},
    )
    assert seen[3]["tool_call_id"] == call["id"]
    assert json.loads(seen[3]["content"]) == {
        "task_id": 1,
        "status": "created",
        "title": "buy milk",
    }
    assert seen[4]["content"] == 'Created task 1: "buy milk".'


async def test_a_failure_notice_is_kept_for_people_but_not_shown_to_the_model(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="500")
    async with serving(database_url, model) as (_, client):
        await say(client, alice, "hello")
        model.behaviour = Behaviour()
        reply = await say(client, alice, "hello again", 1)
    assert reply.status_code == 200
    seen = model.requests[-1]["messages"]
    assert [(m["role"], m["content"]) for m in seen[1:]] == [
        ("user", "hello"),
        ("user", "hello again"),
    ]


async def test_an_idempotency_key_replay_returns_the_first_answer_and_creates_nothing(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    headers = {**alice.headers, "Idempotency-Key": "turn-1"}
    body = {"message": "add buy milk"}
    async with serving(database_url, model) as (_, client):
        first = await client.post(alice.url("/chat"), json=body, headers=headers)
        replay = await client.post(alice.url("/chat"), json=body, headers=headers)
        other = await client.post(
            alice.url("/chat"), json={"message": "add buy bread"}, headers=headers
        )
        messages = await stored(client, alice, 1)
        conversations = await client.get(alice.url("/conversations"), headers=alice.headers)
        assert await tasks(client, alice) == [(1, "buy milk", False)]
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert len(model.requests) == 2  # the tool call and the answer, once
    assert len(messages) == 3
    assert len(conversations.json()["items"]) == 1
    assert other.status_code == 422
    assert other.json()["fields"][0]["field"] == "Idempotency-Key"


async def test_a_retry_while_the_first_request_runs_is_409_then_replays(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    gate = held(model)
    headers = {**alice.headers, "Idempotency-Key": "slow"}
    body = {"message": "add buy milk"}
    async with serving(database_url, model) as (_, client):
        first = asyncio.create_task(client.post(alice.url("/chat"), json=body, headers=headers))
        await until(lambda: len(model.requests) == 1)
        early = await client.post(alice.url("/chat"), json=body, headers=headers)
        gate.set()
        answered = await first
        late = await client.post(alice.url("/chat"), json=body, headers=headers)
        assert await tasks(client, alice) == [(1, "buy milk", False)]
    assert early.status_code == 409
    assert late.json() == answered.json()


async def test_a_failed_turn_replays_as_the_same_502(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="500")
    headers = {**alice.headers, "Idempotency-Key": "k"}
    async with serving(database_url, model) as (_, client):
        first = await client.post(alice.url("/chat"), json={"message": "hi"}, headers=headers)
        model.behaviour = Behaviour()
        replay = await client.post(alice.url("/chat"), json={"message": "hi"}, headers=headers)
    assert first.status_code == replay.status_code == 502
    assert replay.json() == first.json()
    assert len(model.requests) == 1


@contextmanager
def database_unavailable(url: str) -> Iterator[None]:
    """The database refuses the application's writes while the block lasts: on SQLite another
    process holds the write lock, on PostgreSQL the database takes no connections."""
    if sqlite_path(url) is not None:
        with write_lock_held(url):
            yield
        return
    name = make_url(url).database
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            kill_connections(url)
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@asynccontextmanager
async def keyed_turn(
    url: str, model: ModelServer, alice: ApiUser
) -> AsyncIterator[tuple[httpx.AsyncClient, Callable[[], Coroutine[Any, Any, httpx.Response]]]]:
    """A fresh application on the migrated database at `url` (SQLite waiting 0.2 s for its
    lock), alice known to it; and a sender of her one message under one Idempotency-Key."""
    migrate.upgrade(url)
    headers = {**alice.headers, "Idempotency-Key": "k"}
    async with serving(url, model, sqlite_busy_timeout=0.2) as (_, client):
        assert await tasks(client, alice) == []  # alice is known: the turn writes first
        yield (
            client,
            lambda: client.post(
                alice.url("/chat"), json={"message": "add buy milk"}, headers=headers
            ),
        )


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
async def test_a_turn_refused_for_an_unavailable_database_runs_when_retried_with_its_key(
    empty_database: str, model: ModelServer, alice: ApiUser
) -> None:
    async with keyed_turn(empty_database, model, alice) as (client, send):
        with database_unavailable(empty_database):
            refused = await send()
        retried = await send()
        replayed = await send()
        assert await tasks(client, alice) == [(1, "buy milk", False)]
        messages = await stored(client, alice, retried.json()["conversation_id"])
    assert (refused.status_code, refused.json()["error"]) == (503, "database_unavailable")
    assert retried.status_code == 200, retried.text
    assert replayed.json() == retried.json()
    assert len(model.requests) == 2  # the tool call and the answer, once: the retry's
    assert [message["role"] for message in messages] == ["user", "tool", "assistant"]


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
async def test_an_answer_the_database_could_not_take_is_stored_once_it_is_back(
    empty_database: str, model: ModelServer, alice: ApiUser
) -> None:
    gate = held(model, from_call=2)  # the tool call runs, then the model thinks
    async with keyed_turn(empty_database, model, alice) as (client, send):
        turn = asyncio.create_task(send())
        await until(lambda: len(model.requests) == 2)
        with database_unavailable(empty_database):
            gate.set()  # the answer comes while the database cannot store it
            await asyncio.sleep(1)
        answered = await turn
        replayed = await send()
        assert await tasks(client, alice) == [(1, "buy milk", False)]
        messages = await stored(client, alice, answered.json()["conversation_id"])
    assert answered.status_code == 200, answered.text
    assert replayed.json() == answered.json()
    assert len(model.requests) == 2  # the turn ran once
    assert [message["role"] for message in messages] == ["user", "tool", "assistant"]


def sse(text: str) -> list[tuple[str, Any]]:
    """The events of a Server-Sent Events body, with their JSON data."""
    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def check_stream(events: list[tuple[str, Any]], stored_answer: str) -> dict[str, Any]:
    """The stream's `done` body, once its order and pieces are checked against the store."""
    names = [name for name, _ in events]
    assert names[0] == "conversation"
    assert names[-1] == "done"
    assert set(names[1:-1]) <= {"delta", "tool_call"}
    done: dict[str, Any] = events[-1][1]
    assert events[0][1] == {"conversation_id": done["conversation_id"]}
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == done["response"] == stored_answer
    assert [data for name, data in events if name == "tool_call"] == done["tool_calls"]
    return done


async def test_the_agents_sdk_answer_streams_in_order_and_matches_what_is_stored(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    async with serving(database_url, model) as (_, client):
        response = await say(client, alice, "add buy milk", stream=True)
        messages = await stored(client, alice, 1)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    done = check_stream(events, messages[-1]["content"])
    assert [name for name, _ in events].index("tool_call") < [n for n, _ in events].index("delta")
    assert done["tool_calls"][0]["result"]["title"] == "buy milk"


async def test_the_offline_answer_streams_in_order_and_matches_what_is_stored(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await say(client, alice, "Add a task to buy groceries", stream=True)
    done = sse(response.text)[-1][1]
    messages = await stored(client, alice, done["conversation_id"])
    done = check_stream(sse(response.text), messages[-1]["content"])
    assert done["tool_calls"][0]["tool"] == "add_task"


async def test_a_model_failure_streams_an_error_event(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="500")
    async with serving(database_url, model) as (_, client):
        response = await say(client, alice, "hello", stream=True)
    events = sse(response.text)
    assert [name for name, _ in events] == ["conversation", "error"]
    assert events[1][1]["error"] == "assistant_unavailable"


async def test_a_busy_conversation_refuses_a_stream_with_a_plain_409(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    gate = held(model)
    async with serving(database_url, model) as (_, client):
        first = asyncio.create_task(say(client, alice, "add buy milk"))
        await until(lambda: len(model.requests) == 1)
        busy = await say(client, alice, "hello", 1, stream=True)
        gate.set()
        await first
    assert busy.status_code == 409
    assert busy.json()["error"] == "turn_in_progress"
