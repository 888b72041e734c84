"""ChatKit's protocol spoken over HTTP to a running application, for the tests."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import ApiUser, settings
from todochat.app import create_app

Event = dict[str, Any]


@asynccontextmanager
async def serving(database_url: str, assistant: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh application with the assistant those settings configure."""
    app = create_app(settings(database_url, **assistant))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://todochat.test", timeout=30
        ) as client,
    ):
        yield client


def said(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


async def call(
    client: httpx.AsyncClient, user: ApiUser, kind: str, **params: Any
) -> httpx.Response:
    return await client.post(
        "/chatkit", json={"type": kind, "params": params}, headers=user.headers
    )


async def ask(client: httpx.AsyncClient, user: ApiUser, kind: str, **params: Any) -> Any:
    response = await call(client, user, kind, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def stream(client: httpx.AsyncClient, user: ApiUser, kind: str, **params: Any) -> list[Event]:
    response = await call(client, user, kind, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]


def done(events: list[Event]) -> list[Event]:
    return [e["item"] for e in events if e["type"] == "thread.item.done"]


def deltas(events: list[Event], item_id: str) -> str:
    return "".join(
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated"
        and e["item_id"] == item_id
        and e["update"]["type"] == "assistant_message.content_part.text_delta"
    )


def text(item: Event) -> str:
    return "".join(part["text"] for part in item["content"])
