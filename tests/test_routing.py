"""Planned routes: a valid request answered by the plan, anything else as FastAPI answers it."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ApiUser, api_user, bearer
from todochat.routing import PlannedRoute

HOT = {("GET", "/api/{user_id}/tasks"), ("POST", "/api/{user_id}/tasks")}
HOT |= {("GET", "/api/{user_id}/conversations/{conversation_id}/messages")}
# What differs between two answers to the same request: when it was answered.
VOLATILE = {"created_at", "updated_at"}


@contextmanager
def fastapis_way(app: FastAPI) -> Iterator[None]:
    """Every request answered by FastAPI itself (as while dependency overrides are set)."""
    app.dependency_overrides[fastapis_way] = fastapis_way
    try:
        yield
    finally:
        del app.dependency_overrides[fastapis_way]


def answer(response: httpx.Response) -> tuple[int, Any]:
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in VOLATILE}
    return response.status_code, body


@pytest.fixture
async def user(client: httpx.AsyncClient) -> ApiUser:
    """A user with two tasks and a conversation of four messages."""
    user = api_user()
    for title in ("buy groceries", "call mom"):
        made = await client.post(user.url("/tasks"), json={"title": title}, headers=user.headers)
        made.raise_for_status()
    said = await client.post(user.url("/chat"), json={"message": "hello"}, headers=user.headers)
    number = said.raise_for_status().json()["conversation_id"]
    again = {"message": "add a task to renew the passport", "conversation_id": number}
    (await client.post(user.url("/chat"), json=again, headers=user.headers)).raise_for_status()
    return user


def test_the_hot_routes_are_planned(app: FastAPI) -> None:
    planned = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, PlannedRoute) and route.planned
        for method in route.methods or ()
    }
    assert planned >= HOT


async def test_a_valid_request_never_reaches_fastapis_dependency_solving(
    client: httpx.AsyncClient, user: ApiUser
) -> None:
    with mock.patch("fastapi.routing.solve_dependencies", side_effect=AssertionError):
        listed = await client.get(user.url("/tasks?status=pending&limit=1"), headers=user.headers)
        page = await client.get(user.url("/conversations/1/messages"), headers=user.headers)
        made = await client.post(user.url("/tasks"), json={"title": "x"}, headers=user.headers)
    assert [listed.status_code, page.status_code, made.status_code] == [200, 200, 201]
    assert [task["title"] for task in listed.json()] == ["buy groceries"]


GETS = [
    "/tasks",
    "/tasks?status=pending&sort=title&order=desc&limit=1&offset=1",
    "/tasks?search=mom&status=all",
    "/tasks?status=pending&status=completed",  # the last one counts
    "/tasks?limit=0",
    "/tasks?limit=abc",
    "/tasks?status=nope",
    "/tasks?unknown=1",
    "/tasks?search=",
    "/tasks?search=%F0%9F%9B%92",
    "/tasks?tag=" + "t" * 500,
    "/conversations/1/messages",
    "/conversations/1/messages?limit=2&before=4",
    "/conversations/1/messages?deleted=true&limit=50",
    "/conversations/1/messages?deleted=maybe",
    "/conversations/1/messages?before=0",
    "/conversations/1/messages?unknown=1",
    "/conversations/0/messages",
    "/conversations/99/messages",
    "/conversations/abc/messages",
]


@pytest.mark.parametrize("path", GETS)
async def test_a_read_is_answered_as_fastapi_answers_it(
    app: FastAPI, client: httpx.AsyncClient, user: ApiUser, path: str
) -> None:
    planned = await client.get(user.url(path), headers=user.headers)
    with fastapis_way(app):
        theirs = await client.get(user.url(path), headers=user.headers)
    assert answer(planned) == answer(theirs)


BODIES: list[tuple[str, bytes]] = [
    ("application/json", b'{"title": "buy milk", "priority": "high", "tags": ["home"]}'),
    ("application/json; charset=utf-8", json.dumps({"title": "café ☕"}).encode()),
    ("application/json", b'{"title": ""}'),
    ("application/json", b'{"title": "a\\u0000b"}'),
    ("application/json", b'{"title": 5}'),
    ("application/json", b'{"title": "x", "extra": 1}'),
    ("application/json", b"{not json"),
    ("application/json", b"[" * 100_000 + b"]" * 100_000),
    ("application/json", b""),
    ("text/plain", b'{"title": "buy milk"}'),
    ("application/merge-patch+json", b'{"title": "buy milk"}'),
]


@pytest.mark.parametrize(("kind", "body"), BODIES)
async def test_a_write_is_answered_as_fastapi_answers_it(
    app: FastAPI, client: httpx.AsyncClient, kind: str, body: bytes
) -> None:
    # Two users alike, so that each gets the same task number.
    ours, theirs = api_user(), api_user()
    planned = await client.post(
        ours.url("/tasks"), content=body, headers={**ours.headers, "content-type": kind}
    )
    with fastapis_way(app):
        fastapis = await client.post(
            theirs.url("/tasks"), content=body, headers={**theirs.headers, "content-type": kind}
        )
    assert answer(planned) == answer(fastapis)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer forged"}, bearer("someone-else")],
    ids=["no token", "forged", "another user's"],
)
async def test_the_token_is_checked_as_fastapi_checks_it(
    app: FastAPI, client: httpx.AsyncClient, user: ApiUser, headers: dict[str, str]
) -> None:
    for method, path, body in [
        ("GET", "/tasks?limit=1", None),
        ("GET", "/tasks?limit=0", None),
        ("POST", "/tasks", {"title": "x"}),
        ("GET", "/conversations/1/messages", None),
    ]:
        planned = await client.request(method, user.url(path), json=body, headers=headers)
        with fastapis_way(app):
            theirs = await client.request(method, user.url(path), json=body, headers=headers)
        assert planned.status_code in (401, 403)
        assert answer(planned) == answer(theirs)
