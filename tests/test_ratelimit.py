"""Per-user budgets of writes and chat turns, over REST, chat and MCP."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from tests.conftest import ApiUser, say, settings
from tests.mcp.test_server import call, over_http, text
from todochat.app import create_app
from todochat.config import Settings
from todochat.errors import RateLimited
from todochat.ratelimit import RateLimits

WRITES, CHAT_TURNS = 3, 2


@pytest.fixture
async def limited_app(database_url: str) -> AsyncIterator[FastAPI]:
    """The application with small budgets: three writes and two chat turns a minute."""
    application = create_app(
        settings(
            database_url,
            rate_limit_writes=f"{WRITES}/minute",
            rate_limit_chat=f"{CHAT_TURNS}/minute",
        )
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def limited(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `limited_app`."""
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://todochat.test") as client:
        yield client


def assert_rate_limited(response: httpx.Response, budget: str) -> None:
    """A 429 in the one error shape, saying when to come back."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.json() == {
        "error": "rate_limited",
        "detail": f"too many {budget}: try again in {retry_after} seconds",
        "fields": [],
    }


async def test_writes_past_the_budget_are_429_and_change_nothing(
    limited: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    created = await limited.post(alice.url("/tasks"), json={"title": "a"}, headers=alice.headers)
    assert created.status_code == 201
    patched = await limited.patch(alice.url("/tasks/1"), json={"title": "b"}, headers=alice.headers)
    assert patched.status_code == 200
    started = await limited.post(alice.url("/conversations"), headers=alice.headers)
    assert started.status_code == 201

    refused = await limited.delete(alice.url("/tasks/1"), headers=alice.headers)
    assert_rate_limited(refused, "writes")
    # Reads are not counted; the refused delete did nothing; Bob has his own budget.
    listed = await limited.get(alice.url("/tasks"), headers=alice.headers)
    assert [task["title"] for task in listed.json()] == ["b"]
    theirs = await limited.post(bob.url("/tasks"), json={"title": "c"}, headers=bob.headers)
    assert theirs.status_code == 201


async def test_chat_turns_past_the_budget_are_429_and_store_nothing(
    limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    for _ in range(CHAT_TURNS):
        assert (await say(limited, alice, "Add a task to buy milk")).status_code == 200
    assert_rate_limited(await say(limited, alice, "Add a task to buy bread"), "chat turns")
    conversations = await limited.get(alice.url("/conversations"), headers=alice.headers)
    assert [c["id"] for c in conversations.json()["items"]] == [2, 1]
    tasks = await limited.get(alice.url("/tasks"), headers=alice.headers)
    assert [task["title"] for task in tasks.json()] == ["Buy milk", "Buy milk"]
    # Chat turns spend no writes (the tools they call included).
    created = await limited.post(alice.url("/tasks"), json={"title": "a"}, headers=alice.headers)
    assert created.status_code == 201


async def test_a_retry_answered_again_spends_no_chat_turn(
    limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    headers = {**alice.headers, "Idempotency-Key": "once"}
    body = {"message": "Add a task to buy milk"}
    first = await limited.post(alice.url("/chat"), json=body, headers=headers)
    for _ in range(3):
        again = await limited.post(alice.url("/chat"), json=body, headers=headers)
        assert again.json() == first.json()
    assert (await say(limited, alice, "What's pending?")).status_code == 200
    assert_rate_limited(await say(limited, alice, "What's done?"), "chat turns")


async def test_mcp_tool_calls_that_change_tasks_spend_writes(
    limited_app: FastAPI, limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with over_http(limited_app, alice.headers) as mcp:
        for n in range(WRITES):
            assert (await call(mcp, "add_task", title=f"task {n}"))["status"] == "created"
        refused = await mcp.call_tool("complete_task", {"task_id": 1})
        assert refused.is_error
        assert text(refused).startswith("Too many changes at once: try again in ")
        # Listing reads, and stays free.
        assert [task["completed"] for task in await call(mcp, "list_tasks")] == [False] * WRITES
    refused_over_rest = await limited.post(
        alice.url("/tasks"), json={"title": "d"}, headers=alice.headers
    )
    assert_rate_limited(refused_over_rest, "writes")


@pytest.mark.parametrize("off", ["", "0", " 0 "])
async def test_an_empty_or_zero_budget_has_no_limit(off: str) -> None:
    limits = RateLimits(writes=off, chat=off)
    for _ in range(1000):
        await limits.spend("writes", "alice")
        await limits.spend("chat turns", "alice")


async def test_several_limits_apply_together() -> None:
    limits = RateLimits(writes="5/minute;2/second", chat="0")
    await limits.spend("writes", "alice")
    await limits.spend("writes", "alice")
    with pytest.raises(RateLimited) as raised:
        await limits.spend("writes", "alice")
    assert (raised.value.budget, raised.value.retry_after) == ("writes", 1)


@pytest.mark.parametrize("budget", ["lots", "10", "10/fortnight", "-1/minute"])
def test_a_budget_that_does_not_parse_is_refused_at_startup(budget: str) -> None:
    with pytest.raises(ValidationError, match="must be like 120/minute"):
        Settings(_env_file=None, rate_limit_writes=budget)
