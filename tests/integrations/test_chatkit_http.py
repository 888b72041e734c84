"""`POST /chatkit` over HTTP: the ChatKit protocol, answered by the offline assistant and by a
chat-completions model (the local model server through the Agents SDK), on both backends."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, bearer
from tests.integrations.chatkit_protocol import ask, call, deltas, done, said, serving, stream, text
from todochat.bench.model_server import ModelServer


@pytest.fixture(params=["offline", "model"])
def assistant(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The settings of the assistant: the offline one, or the Agents SDK on a model server."""
    if request.param == "offline":
        yield {}
        return
    with ModelServer() as model:
        yield {
            "openai_model": "local-model",
            "openai_base_url": model.base_url,
            "openai_max_retries": 0,
        }


@pytest.fixture
async def client(database_url: str, assistant: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh application answering with that assistant."""
    async with serving(database_url, assistant) as client:
        yield client


async def tasks(client: httpx.AsyncClient, user: ApiUser) -> list[tuple[int, str]]:
    response = await client.get(user.url("/tasks"), headers=user.headers)
    return [(t["id"], t["title"].lower()) for t in response.json()]


async def test_chatkit_needs_the_apis_bearer_token(client: httpx.AsyncClient) -> None:
    body = {"type": "threads.list", "params": {}}
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        response = await client.post("/chatkit", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
    assert (await client.post("/chatkit", json=body, headers=bearer("someone"))).is_success


async def test_a_new_thread_is_answered_streaming_and_stored_like_any_turn(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    events = await stream(client, alice, "threads.create", input=said("Add buy milk"))
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert events[2]["stream_options"] == {"allow_cancel": False}
    thread = events[0]["thread"]
    person, task, reply = done(events)
    assert (person["type"], text(person)) == ("user_message", "Add buy milk")
    assert task["type"] == "task"
    assert task["task"]["title"].lower() == "add_task: created task 1, “buy milk”"
    assert reply["type"] == "assistant_message"
    assert deltas(events, reply["id"]) == text(reply)
    assert "__fake_id__" not in {person["id"], reply["id"], task["id"]}
    [updated] = [e["thread"] for e in events if e["type"] == "thread.updated"]
    assert updated["title"] == "Add buy milk"
    assert await tasks(client, alice) == [(1, "buy milk")]

    stored = await ask(client, alice, "items.list", thread_id=thread["id"])  # newest first
    assert [i["id"] for i in stored["data"]] == [reply["id"], task["id"], person["id"]]
    assert stored["data"][0]["content"] == reply["content"]
    [conversation] = (await client.get(alice.url("/conversations"), headers=alice.headers)).json()[
        "items"
    ]
    assert (conversation["key"], conversation["title"]) == (thread["id"], "Add buy milk")
    messages = await client.get(
        alice.url(f"/conversations/{conversation['id']}/messages"), headers=alice.headers
    )
    assert [(m["role"], m["content"]) for m in messages.json()["items"]] == [
        ("user", "Add buy milk"),
        ("tool", task["task"]["content"]),
        ("assistant", text(reply)),
    ]
    assert messages.json()["items"][1]["tool_calls"][0]["tool"] == "add_task"


async def test_messages_are_added_listed_and_threads_paged(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    created = []
    for n in range(3):
        events = await stream(client, alice, "threads.create", input=said(f"add task {n}"))
        created.append(events[0]["thread"]["id"])
    more = await stream(
        client, alice, "threads.add_user_message", thread_id=created[0], input=said("list")
    )
    assert [i["type"] for i in done(more)] == ["user_message", "task", "assistant_message"]
    items = await ask(client, alice, "items.list", thread_id=created[0], limit=4, order="asc")
    assert [i["type"] for i in items["data"]] == [
        "user_message",
        "task",
        "assistant_message",
        "user_message",
    ]
    assert items["has_more"] is True
    rest = await ask(
        client, alice, "items.list", thread_id=created[0], after=items["after"], order="asc"
    )
    assert [i["type"] for i in rest["data"]] == ["task", "assistant_message"]
    assert rest["has_more"] is False

    first = await ask(client, alice, "threads.list", limit=2)
    assert [t["id"] for t in first["data"]] == created[:0:-1]
    assert (first["has_more"], first["after"]) == (True, created[1])
    second = await ask(client, alice, "threads.list", limit=2, after=first["after"])
    assert ([t["id"] for t in second["data"]], second["has_more"]) == ([created[0]], False)
    oldest = await ask(client, alice, "threads.list", limit=5, order="asc")
    assert [t["id"] for t in oldest["data"]] == created


async def test_threads_are_renamed_read_and_deleted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    events = await stream(client, alice, "threads.create", input=said("hello there"))
    thread_id = events[0]["thread"]["id"]
    renamed = await ask(client, alice, "threads.update", thread_id=thread_id, title="Greetings")
    assert renamed["title"] == "Greetings"
    full = await ask(client, alice, "threads.get_by_id", thread_id=thread_id)
    assert (full["title"], [i["type"] for i in full["items"]["data"]]) == (
        "Greetings",
        ["user_message", "assistant_message"],
    )
    assert await ask(client, alice, "threads.delete", thread_id=thread_id) == {}
    gone = await call(client, alice, "threads.get_by_id", thread_id=thread_id)
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")
    assert (await ask(client, alice, "threads.list"))["data"] == []
    restored = await client.post(alice.url("/conversations/1/restore"), headers=alice.headers)
    assert restored.json()["title"] == "Greetings"
    assert (await ask(client, alice, "threads.get_by_id", thread_id=thread_id))["id"] == thread_id


async def test_a_retry_answers_the_message_again_in_place_of_the_old_answer(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    events = await stream(client, alice, "threads.create", input=said("add call mom"))
    thread_id = events[0]["thread"]["id"]
    person, old_task, old_reply = done(events)
    again = await stream(
        client, alice, "threads.retry_after_item", thread_id=thread_id, item_id=person["id"]
    )
    new_task, new_reply = done(again)
    assert (new_task["type"], new_reply["type"]) == ("task", "assistant_message")
    assert {new_task["id"], new_reply["id"]}.isdisjoint({old_task["id"], old_reply["id"]})
    items = await ask(client, alice, "items.list", thread_id=thread_id, order="asc")
    assert [i["id"] for i in items["data"]] == [person["id"], new_task["id"], new_reply["id"]]
    assert await tasks(client, alice) == [(1, "call mom"), (2, "call mom")]


async def test_a_retry_needs_a_persons_message_of_the_thread(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    events = await stream(client, alice, "threads.create", input=said("hello"))
    thread_id, reply = events[0]["thread"]["id"], done(events)[-1]
    for item_id in ("msg_nothing", "message-99"):
        response = await call(
            client, alice, "threads.retry_after_item", thread_id=thread_id, item_id=item_id
        )
        assert (response.status_code, response.json()["error"]) == (404, "not_found")
    refused = await call(
        client, alice, "threads.retry_after_item", thread_id=thread_id, item_id=reply["id"]
    )
    assert (refused.status_code, refused.json()["fields"][0]["field"]) == (422, "item_id")
    items = await ask(client, alice, "items.list", thread_id=thread_id, order="asc")
    assert len(items["data"]) == 2


async def test_another_users_thread_is_not_found(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    events = await stream(client, alice, "threads.create", input=said("add secret plan"))
    thread_id, item_id = events[0]["thread"]["id"], done(events)[0]["id"]
    for kind, params in [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "mine"}),
        ("threads.delete", {"thread_id": thread_id}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": said("add more")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": item_id}),
    ]:
        response = await call(client, bob, kind, **params)
        assert (response.status_code, response.json()["error"]) == (404, "not_found"), kind
    assert (await ask(client, bob, "threads.list"))["data"] == []
    assert await tasks(client, bob) == []
    assert (await ask(client, alice, "threads.get_by_id", thread_id=thread_id))["title"] == (
        "add secret plan"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "threads.create", "params": {"input": said("x" * 10_001)}}, "message"),
        ({"type": "threads.create", "params": {"input": said("   ")}}, "message"),
        ({"type": "attachments.delete", "params": {"attachment_id": "atc_1"}}, "type"),
        ({"type": "threads.list"}, "params"),
        ({"type": "no.such.thing", "params": {}}, "input"),
    ],
)
async def test_a_request_this_server_cannot_take_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/chatkit", json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"][0]["field"]
    assert (await ask(client, alice, "threads.list"))["data"] == []
    malformed = await client.post("/chatkit", content=b"{not json", headers=alice.headers)
    assert malformed.status_code == 422


async def test_a_message_with_an_attachment_is_refused(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    message = {**said("see attached"), "attachments": ["atc_1"]}
    response = await call(client, alice, "threads.create", input=message)
    assert (response.status_code, response.json()["fields"][0]["field"]) == (422, "attachments")
