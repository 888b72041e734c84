"""A person talking to the offline assistant through the chat endpoint, the database at hand."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ApiUser
from todochat.db import Database
from todochat.tasks.models import TaskQuery
from todochat.tasks.store import TaskStore

Row = tuple[int, str, bool]


class Chat:
    """One person talking to the assistant in one conversation."""

    def __init__(self, client: httpx.AsyncClient, user: ApiUser, app: FastAPI) -> None:
        self.client = client
        self.user = user
        self.database: Database = app.state.database
        self.conversation_id: int | None = None

    async def say(self, message: str) -> dict[str, Any]:
        """The chat endpoint's answer to `message`, in this conversation."""
        response = await self.client.post(
            self.user.url("/chat"),
            json={"conversation_id": self.conversation_id, "message": message},
            headers=self.user.headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.conversation_id = body["conversation_id"]
        return body

    async def seed(self, *titles: str, done: tuple[int, ...] = ()) -> None:
        """Tasks made through the REST API, outside the conversation; `done` are completed."""
        for title in titles:
            created = await self.client.post(
                self.user.url("/tasks"), json={"title": title}, headers=self.user.headers
            )
            assert created.status_code == 201, created.text
        for number in done:
            completed = await self.client.patch(
                self.user.url(f"/tasks/{number}/complete"), headers=self.user.headers
            )
            assert completed.status_code == 200, completed.text

    async def tasks(self) -> list[Row]:
        """The person's tasks as the database holds them: number, title, done."""
        async with self.database.read(self.user.id) as session:
            found = await TaskStore(session, self.user.id).list(TaskQuery(limit=200))
            return [(t.id, t.title, t.completed) for t in found]

    async def description(self, number: int) -> str | None:
        """The description of one task, as the database holds it."""
        async with self.database.read(self.user.id) as session:
            return (await TaskStore(session, self.user.id).get(number)).description


@pytest.fixture
def chat(client: httpx.AsyncClient, alice: ApiUser, app: FastAPI) -> Chat:
    """Alice, in a new conversation."""
    return Chat(client, alice, app)


def tools_called(reply: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls of a reply: name and arguments."""
    return [(call["tool"], call["arguments"]) for call in reply["tool_calls"]]


def changes(reply: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The calls of a reply that changed tasks (every call but listings)."""
    return [call for call in tools_called(reply) if call[0] != "list_tasks"]
