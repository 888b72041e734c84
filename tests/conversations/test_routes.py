import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ApiUser
from todochat.conversations.models import MessageCreate, Role
from todochat.conversations.store import MessageStore
from todochat.db import Database


async def new_conversation(
    client: httpx.AsyncClient, user: ApiUser, **data: object
) -> dict[str, object]:
    response = await client.post(user.url("/conversations"), json=data, headers=user.headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_conversations_are_created_renamed_listed_and_soft_deleted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    first = await new_conversation(client, alice)
    second = await new_conversation(client, alice, title="Groceries", metadata={"app": "web"})
    assert (first["id"], first["title"]) == (1, None)
    assert (second["id"], second["metadata"]) == (2, {"app": "web"})
    renamed = await client.patch(
        alice.url("/conversations/1"), json={"title": "Errands"}, headers=alice.headers
    )
    assert renamed.json()["title"] == "Errands"

    listing = await client.get(alice.url("/conversations?limit=1"), headers=alice.headers)
    page = listing.json()
    assert [c["id"] for c in page["items"]] == [1]
    more = await client.get(
        alice.url("/conversations"),
        params={"limit": 1, "cursor": page["next_cursor"]},
        headers=alice.headers,
    )
    assert ([c["id"] for c in more.json()["items"]], more.json()["next_cursor"]) == ([2], None)

    deleted = await client.delete(alice.url("/conversations/1"), headers=alice.headers)
    assert deleted.json()["deleted_at"] is not None
    gone = await client.get(alice.url("/conversations/1"), headers=alice.headers)
    assert gone.status_code == 404
    restored = await client.post(alice.url("/conversations/1/restore"), headers=alice.headers)
    assert restored.json()["deleted_at"] is None
    assert (await client.get(alice.url("/conversations/1"), headers=alice.headers)).is_success


async def test_messages_page_backwards_with_before(
    client: httpx.AsyncClient, alice: ApiUser, app: FastAPI
) -> None:
    await new_conversation(client, alice)
    database: Database = app.state.database
    async with database.transaction(alice.id) as session:
        await MessageStore(session, alice.id).append(
            1, [MessageCreate(role=Role.USER, content=f"m{n}") for n in range(1, 6)]
        )
    latest = await client.get(alice.url("/conversations/1/messages?limit=2"), headers=alice.headers)
    assert [m["seq"] for m in latest.json()["items"]] == [4, 5]
    assert latest.json()["next_before"] == 4
    older = await client.get(
        alice.url("/conversations/1/messages?limit=2&before=4"), headers=alice.headers
    )
    assert [m["content"] for m in older.json()["items"]] == ["m2", "m3"]
    oldest = await client.get(
        alice.url("/conversations/1/messages?limit=2&before=2"), headers=alice.headers
    )
    assert (oldest.json()["items"][0]["seq"], oldest.json()["next_before"]) == (1, None)


async def test_another_users_conversation_is_not_found(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    await new_conversation(client, alice, title="private")
    for method, path in [
        ("GET", "/conversations/1"),
        ("PATCH", "/conversations/1"),
        ("DELETE", "/conversations/1"),
        ("POST", "/conversations/1/restore"),
        ("GET", "/conversations/1/messages"),
    ]:
        response = await client.request(method, bob.url(path), json={}, headers=bob.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "not_found"
    listing = await client.get(bob.url("/conversations"), headers=bob.headers)
    assert listing.json() == {"items": [], "next_cursor": None}
    mine = await client.get(alice.url("/conversations/1"), headers=alice.headers)
    assert (mine.json()["title"], mine.json()["deleted_at"]) == ("private", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x" * 256}, "title"),
        ({"title": "nul\u0000"}, "title"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"metadata": "text"}, "metadata"),
        ({"owner": "bob"}, "owner"),
    ],
)
async def test_bad_conversation_input_is_a_422_and_creates_nothing(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, object], field: str
) -> None:
    response = await client.post(alice.url("/conversations"), json=body, headers=alice.headers)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == [field]
    listing = await client.get(alice.url("/conversations"), headers=alice.headers)
    assert listing.json()["items"] == []


async def test_a_forged_cursor_is_a_422(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.get(alice.url("/conversations?cursor=Zm9yZ2Vk"), headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "cursor"
