"""The MCP server through the official SDK's client: in memory, over streamable HTTP, over stdio."""

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from tests.conftest import ApiUser, bearer, committed_user
from todochat.db import Database
from todochat.mcp.server import build_server, fixed_identity
from todochat.users.auth import Identity
from todochat.users.models import UserProfile
from todochat.users.store import KnownUsers

TOOL_NAMES = ["add_task", "list_tasks", "complete_task", "delete_task", "update_task"]


@asynccontextmanager
async def connected(database: Database, user_id: str) -> AsyncIterator[Client]:
    """The SDK's client, in memory, on a server bound to `user_id`."""
    users = KnownUsers(database)
    server = build_server(lambda: users, fixed_identity(Identity(user_id, UserProfile())))
    async with Client(server) as client:
        yield client


def text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


async def call(client: Client, name: str, **arguments: Any) -> Any:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text(result)
    return json.loads(text(result))


async def test_the_five_tools_are_listed_with_their_schemas(database: Database) -> None:
    async with connected(database, await committed_user(database)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == TOOL_NAMES
    add = tools["add_task"].input_schema
    assert add["required"] == ["title"]
    assert set(add["properties"]) == {"title", "description", "user_id"}
    status = tools["list_tasks"].input_schema["properties"]["status"]
    assert (status["enum"], status["default"]) == (["all", "pending", "completed"], "all")
    assert all("$ref" not in json.dumps(tool.input_schema) for tool in tools.values())
    for name in ("complete_task", "delete_task"):
        assert tools[name].input_schema["required"] == ["task_id"]
    assert tools["update_task"].input_schema["required"] == ["task_id"]


async def test_each_tool_works_and_answers_in_the_spec_shape(database: Database) -> None:
    async with connected(database, await committed_user(database)) as client:
        assert await call(client, "add_task", title="Buy groceries") == {
            "task_id": 1,
            "status": "created",
            "title": "Buy groceries",
        }
        await call(client, "add_task", title="Call mom", description="Sunday")
        await call(client, "add_task", title="Old task")
        assert await call(client, "complete_task", task_id=2) == {
            "task_id": 2,
            "status": "completed",
            "title": "Call mom",
        }
        assert await call(client, "delete_task", task_id=3) == {
            "task_id": 3,
            "status": "deleted",
            "title": "Old task",
        }
        assert await call(client, "update_task", task_id=1, title="Buy groceries and fruits") == {
            "task_id": 1,
            "status": "updated",
            "title": "Buy groceries and fruits",
        }
        assert await call(client, "list_tasks") == [
            {"id": 1, "title": "Buy groceries and fruits", "completed": False},
            {"id": 2, "title": "Call mom", "completed": True},
        ]
        assert await call(client, "list_tasks", status="pending") == [
            {"id": 1, "title": "Buy groceries and fruits", "completed": False}
        ]
        completed = await client.call_tool("list_tasks", {"status": "completed"})
        assert completed.structured_content == {
            "result": [{"id": 2, "title": "Call mom", "completed": True}]
        }


async def test_another_users_task_number_is_not_found(database: Database) -> None:
    alice = await committed_user(database, "alice")
    mallory = await committed_user(database, "mallory")
    async with connected(database, alice) as client:
        await call(client, "add_task", title="Alice's secret")
    async with connected(database, mallory) as client:
        for name in ("complete_task", "delete_task"):
            result = await client.call_tool(name, {"task_id": 1})
            assert result.is_error
            assert text(result) == "Task 1 was not found."
        assert await call(client, "list_tasks") == []
    async with connected(database, alice) as client:
        assert await call(client, "list_tasks") == [
            {"id": 1, "title": "Alice's secret", "completed": False}
        ]


async def test_a_mismatched_user_id_is_refused_and_a_matching_one_accepted(
    database: Database,
) -> None:
    alice = await committed_user(database, "alice")
    mallory = await committed_user(database, "mallory")
    async with connected(database, mallory) as client:
        refused = await client.call_tool("list_tasks", {"user_id": alice})
        assert refused.is_error
        assert text(refused) == "I can only act on the signed-in user's own tasks."
        accepted = await call(client, "add_task", title="Mine", user_id=mallory)
        assert accepted["task_id"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "at most 200 characters"),
        ({"title": "nul\u0000"}, "NUL"),
        ({"title": 5}, "valid string"),
        ({}, "title: Field required"),
        ({"title": "t", "owner": "x"}, "owner"),
        ({"title": "Buy \ud800 milk"}, "title: must not contain lone UTF-16 surrogates"),
        ({"title": "t", "description": "\udfff"}, "description: must not contain lone UTF-16"),
        ({"title": "   "}, "title: must not be blank"),
    ],
)
async def test_bad_arguments_are_a_tool_error_and_write_nothing(
    database: Database, arguments: dict[str, Any], message: str
) -> None:
    async with connected(database, await committed_user(database)) as client:
        result = await client.call_tool("add_task", arguments)
        assert result.is_error
        assert message in text(result)
        assert await call(client, "list_tasks") == []


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        (True, "task_id: Input should be a valid integer"),
        ("1", "task_id: Input should be a valid integer"),
        (1.5, "task_id: Input should be a valid integer"),
        ([1], "task_id: Input should be a valid integer"),
        (2**31, "task_id: Input should be less than or equal to 2147483647"),
        (2**63, "task_id: Input should be less than or equal to 2147483647"),
        (0, "task_id: Input should be greater than or equal to 1"),
    ],
    ids=str,
)
async def test_a_task_id_that_is_not_a_number_in_range_is_refused(
    database: Database, task_id: object, message: str
) -> None:
    async with connected(database, await committed_user(database)) as client:
        await call(client, "add_task", title="Call mom")
        for name in ("complete_task", "delete_task", "update_task"):
            extra = {"title": "Changed"} if name == "update_task" else {}
            result = await client.call_tool(name, {"task_id": task_id, **extra})
            assert result.is_error
            assert message in text(result), text(result)
        assert await call(client, "list_tasks") == [
            {"id": 1, "title": "Call mom", "completed": False}
        ]


@asynccontextmanager
async def over_http(app: FastAPI, headers: dict[str, str]) -> AsyncIterator[Client]:
    """The SDK's streamable HTTP client talking to the application in process."""
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://todochat.test", headers=headers
    )
    async with (
        http,
        Client(streamable_http_client("http://todochat.test/mcp", http_client=http)) as c,
    ):
        yield c


async def test_streamable_http_serves_the_tools_for_the_tokens_user(
    app: FastAPI, client: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with over_http(app, alice.headers) as mcp:
        assert [tool.name for tool in (await mcp.list_tools()).tools] == TOOL_NAMES
        assert (await call(mcp, "add_task", title="Via MCP"))["task_id"] == 1
    listed = await client.get(alice.url("/tasks"), headers=alice.headers)
    assert [task["title"] for task in listed.json()] == ["Via MCP"]


async def test_streamable_http_isolates_users(app: FastAPI, alice: ApiUser, bob: ApiUser) -> None:
    async with over_http(app, alice.headers) as mcp:
        await call(mcp, "add_task", title="Alice's")
    async with over_http(app, bob.headers) as mcp:
        assert await call(mcp, "list_tasks") == []
        result = await mcp.call_tool("delete_task", {"task_id": 1, "user_id": alice.id})
        assert result.is_error


async def test_streamable_http_refuses_loose_types_and_lone_surrogates(
    app: FastAPI, client: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with over_http(app, alice.headers) as mcp:
        await call(mcp, "add_task", title="Call mom")
        result = await mcp.call_tool("complete_task", {"task_id": True})
        assert result.is_error
        assert "task_id: Input should be a valid integer" in text(result)
    # No JSON encoder writes a lone surrogate; sent as written, the SDK's JSON parser refuses it.
    raw = (
        r'{"jsonrpc": "2.0", "id": 1, "method": "tools/call",'
        r' "params": {"name": "add_task", "arguments": {"title": "\ud800"}}}'
    )
    headers = {
        **alice.headers,
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    response = await client.post("/mcp", content=raw.encode(), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700  # JSON-RPC's parse error
    listed = await client.get(alice.url("/tasks"), headers=alice.headers)
    assert [(task["title"], task["completed"]) for task in listed.json()] == [("Call mom", False)]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, bearer("x", secret="another-secret-" + "x" * 32)],
    ids=["missing", "malformed", "forged"],
)
async def test_streamable_http_refuses_a_missing_or_bad_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={**headers, "Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthenticated"


async def test_stdio_serves_the_named_users_tasks(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "todochat", "mcp", "--user", "desktop-user"],
        env=env,
        cwd=str(tmp_path),
    )
    async with Client(parameters) as mcp:
        added = await call(mcp, "add_task", title="From the desktop")
        assert added["status"] == "created"
        listed = await call(mcp, "list_tasks")
    assert {"id": added["task_id"], "title": "From the desktop", "completed": False} in listed
