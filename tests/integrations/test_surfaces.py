"""One conversation, every surface: made through REST chat, ChatKit, an Agents SDK session or an
agent on the MCP tools, it is listed and read through all the others."""

from typing import Any

import httpx
import httpx2
from agents import Agent, RunConfig, Runner
from agents.mcp import MCPServerStreamableHttp
from agents.testing import ScriptedModel, assistant_message, function_call
from fastapi import FastAPI

from tests.conftest import ApiUser, say
from tests.integrations.chatkit_protocol import ask, done, said, stream, text
from tests.integrations.items import ANSWER, FUNCTION_CALL, FUNCTION_OUTPUT, REASONING
from todochat.db import Database
from todochat.integrations.agents import TodochatSession


async def messages(client: httpx.AsyncClient, user: ApiUser, number: int) -> list[tuple[str, str]]:
    response = await client.get(user.url(f"/conversations/{number}/messages"), headers=user.headers)
    return [(m["role"], m["content"]) for m in response.json()["items"]]


async def kinds(client: httpx.AsyncClient, user: ApiUser, thread_id: str) -> list[str]:
    items = await ask(client, user, "items.list", thread_id=thread_id, order="asc")
    return [item["type"] for item in items["data"]]


async def test_a_rest_chat_conversation_is_a_chatkit_thread_and_a_session(
    client: httpx.AsyncClient, alice: ApiUser, database: Database
) -> None:
    assert (await say(client, alice, "Add a task to buy milk")).status_code == 200
    [thread] = (await ask(client, alice, "threads.list"))["data"]
    assert (thread["id"], thread["title"]) == ("conversation-1", "Add a task to buy milk")
    assert await kinds(client, alice, thread["id"]) == ["user_message", "task", "assistant_message"]
    more = await stream(
        client,
        alice,
        "threads.add_user_message",
        thread_id=thread["id"],
        input=said("What's pending?"),
    )
    assert "Buy milk" in text(done(more)[-1])
    assert [role for role, _ in await messages(client, alice, 1)] == [
        "user",
        "tool",
        "assistant",
        "user",
        "tool",
        "assistant",
    ]
    await client.patch(
        alice.url("/conversations/1"), json={"key": "kitchen"}, headers=alice.headers
    )
    session = TodochatSession.on(database, "kitchen", user_id=alice.id)
    items = [dict(item) for item in await session.get_items()]
    assert [item.get("type", item.get("role")) for item in items] == [
        "user",
        "function_call",
        "function_call_output",
        "assistant",
    ] * 2


async def test_a_chatkit_thread_is_a_rest_conversation_and_a_session(
    client: httpx.AsyncClient, alice: ApiUser, database: Database
) -> None:
    events = await stream(client, alice, "threads.create", input=said("Add water the plants"))
    thread_id = events[0]["thread"]["id"]
    [conversation] = (
        await client.get(alice.url(f"/conversations?key={thread_id}"), headers=alice.headers)
    ).json()["items"]
    turn = await say(client, alice, "Show me all my tasks", conversation["id"])
    assert turn.status_code == 200
    assert await kinds(client, alice, thread_id) == [
        "user_message",
        "task",
        "assistant_message",
        "user_message",
        "task",
        "assistant_message",
    ]
    session = TodochatSession.on(database, thread_id, user_id=alice.id)
    items = [dict(item) for item in await session.get_items(limit=4)]
    assert items[0] == {"role": "user", "content": "Show me all my tasks"}
    assert items[1]["name"] == "list_tasks"


async def test_a_session_is_a_chatkit_thread_and_a_rest_conversation(
    client: httpx.AsyncClient, alice: ApiUser, database: Database
) -> None:
    session = TodochatSession.on(database, "agent-run", user_id=alice.id)
    await session.add_items(
        [
            {"role": "user", "content": "Add buy milk"},
            REASONING,
            FUNCTION_CALL,
            FUNCTION_OUTPUT,
            ANSWER,
        ]
    )
    [thread] = (await ask(client, alice, "threads.list"))["data"]
    assert (thread["id"], thread["title"]) == ("agent-run", "Add buy milk")
    items = (await ask(client, alice, "items.list", thread_id="agent-run", order="asc"))["data"]
    assert [i["type"] for i in items] == ["user_message", "task", "assistant_message"]
    assert items[1]["task"]["title"] == "add_task: created task 1, “Buy milk”"
    assert text(items[2]) == "Added “Buy milk”."
    [conversation] = (await client.get(alice.url("/conversations"), headers=alice.headers)).json()[
        "items"
    ]
    assert conversation["key"] == "agent-run"
    more = await stream(
        client, alice, "threads.add_user_message", thread_id="agent-run", input=said("Thanks!")
    )
    assert done(more)[-1]["type"] == "assistant_message"
    assert len(await session.get_items()) == 7


async def test_an_agent_on_the_mcp_tools_with_a_session_is_one_conversation(
    app: FastAPI, client: httpx.AsyncClient, alice: ApiUser, database: Database
) -> None:
    def in_process(
        headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None
    ) -> httpx2.AsyncClient:
        transport = httpx2.ASGITransport(app=app)
        return httpx2.AsyncClient(transport=transport, headers=headers, timeout=timeout)

    tools = MCPServerStreamableHttp(
        {
            "url": "http://todochat.test/mcp",
            "headers": alice.headers,
            "httpx_client_factory": in_process,
        }
    )
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "Water the plants"}, call_id="call_w")],
            [assistant_message("Added Water the plants.")],
        ]
    )
    agent = Agent(name="todochat", model=model, mcp_servers=[tools])
    session = TodochatSession.on(database, "mcp-run", user_id=alice.id)
    async with tools:
        result = await Runner.run(
            agent,
            "Add water the plants",
            session=session,
            run_config=RunConfig(tracing_disabled=True),
        )
    assert result.final_output == "Added Water the plants."
    listed = await client.get(alice.url("/tasks"), headers=alice.headers)
    assert [t["title"] for t in listed.json()] == ["Water the plants"]
    [conversation] = (
        await client.get(alice.url("/conversations?key=mcp-run"), headers=alice.headers)
    ).json()["items"]
    stored = await messages(client, alice, conversation["id"])
    assert [role for role, _ in stored] == ["user", "tool", "assistant"]
    assert "Water the plants" in stored[1][1]
    assert await kinds(client, alice, "mcp-run") == ["user_message", "task", "assistant_message"]
