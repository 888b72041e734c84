"""The chat endpoint: stateless turns stored whole, in order, for the signed-in user only."""

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ApiUser, say, settings
from todochat.app import create_app


async def messages(
    client: httpx.AsyncClient, user: ApiUser, conversation_id: int
) -> list[dict[str, Any]]:
    response = await client.get(
        user.url(f"/conversations/{conversation_id}/messages?limit=200"), headers=user.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_no_conversation_id_starts_a_new_titled_conversation(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    first = await say(client, alice, "Add a task to buy groceries")
    second = await say(client, alice, "What's pending?")
    assert (first.json()["conversation_id"], second.json()["conversation_id"]) == (1, 2)
    listing = await client.get(alice.url("/conversations"), headers=alice.headers)
    assert [c["title"] for c in listing.json()["items"]] == [
        "What's pending?",
        "Add a task to buy groceries",
    ]


async def test_stored_messages_and_tool_calls_match_the_response(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    reply = (await say(client, alice, "Add a task to buy groceries")).json()
    stored = await messages(client, alice, reply["conversation_id"])
    [call] = reply["tool_calls"]
    assert [(m["seq"], m["role"], m["content"]) for m in stored] == [
        (1, "user", "Add a task to buy groceries"),
        (2, "tool", json.dumps(call["result"])),
        (3, "assistant", reply["response"]),
    ]
    assert stored[1]["tool_calls"] == [{"tool": call["tool"], "arguments": call["arguments"]}]
    assert stored[1]["tool_results"] == [{"tool": call["tool"], "result": call["result"]}]
    assert [stored[0]["tool_calls"], stored[2]["tool_calls"]] == [None, None]


async def test_a_conversation_resumes_after_the_server_restarts(
    database_url: str, alice: ApiUser
) -> None:
    async def turn(message: str, conversation_id: int | None) -> dict[str, Any]:
        app = create_app(settings(database_url))  # a fresh process's worth of state
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            response = await say(c, alice, message, conversation_id)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            body["history"] = await messages(c, alice, body["conversation_id"])
            return body

    first = await turn("Add a task to call mom", None)
    second = await turn("Mark task 1 as complete", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    assert [m["role"] for m in second["history"]] == [
        *("user", "tool", "assistant"),
        *("user", "tool", "tool", "assistant"),  # a look at the task, then the change
    ]
    assert second["tool_calls"][-1]["result"]["title"] == "Call mom"


async def test_a_message_cannot_reach_another_users_tasks(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    await say(client, alice, "Add a task to alice's secret plan")
    reply = (await say(client, bob, "Delete task 1")).json()
    assert [call["result"] for call in reply["tool_calls"]] == [
        [],
        {"error": "Task 1 was not found."},
    ]
    reply = (await say(client, bob, f"Delete the secret plan task of {alice.id}")).json()
    assert [call["result"] for call in reply["tool_calls"]] == [[]]
    assert reply["response"].startswith("I couldn't find a task matching")
    alice_tasks = await client.get(alice.url("/tasks"), headers=alice.headers)
    assert [t["title"] for t in alice_tasks.json()] == ["Alice's secret plan"]


async def test_another_users_conversation_is_not_found(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    conversation = (await say(client, alice, "hello")).json()["conversation_id"]
    response = await say(client, bob, "hello", conversation)
    assert response.status_code == 404
    assert len(await messages(client, alice, conversation)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 10_001}, "message"),
        ({"message": "nul \u0000"}, "message"),
        ({"message": 42}, "message"),
        ({"message": "hi", "conversation_id": "one"}, "conversation_id"),
        ({"message": "hi", "conversation_id": 0}, "conversation_id"),
        ({"message": "hi", "user_id": "someone-else"}, "user_id"),
        ({}, "message"),
    ],
)
async def test_bad_chat_input_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, object], field: str
) -> None:
    response = await client.post(alice.url("/chat"), json=body, headers=alice.headers)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == [field]
    listing = await client.get(alice.url("/conversations"), headers=alice.headers)
    assert listing.json()["items"] == []


async def test_a_message_of_ten_thousand_characters_with_emoji_is_stored_exactly(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    message = ("🙂 héllo 世界 " * 1000)[:10_000]
    reply = await say(client, alice, message)
    assert reply.status_code == 200
    stored = await messages(client, alice, reply.json()["conversation_id"])
    assert stored[0]["content"] == message


async def test_chat_needs_the_users_own_token(
    client: httpx.AsyncClient, app: FastAPI, alice: ApiUser, bob: ApiUser
) -> None:
    anonymous = await client.post(alice.url("/chat"), json={"message": "hi"})
    assert anonymous.status_code == 401
    crossed = await client.post(alice.url("/chat"), json={"message": "hi"}, headers=bob.headers)
    assert crossed.status_code == 403


@pytest.mark.parametrize("message", ["0" * 10_000, "complete " + "9" * 5_000])
async def test_a_message_of_thousands_of_digits_is_answered(
    client: httpx.AsyncClient, alice: ApiUser, message: str
) -> None:
    reply = await say(client, alice, message)
    assert reply.status_code == 200, reply.text
