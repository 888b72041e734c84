from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, say
from tests.conversations.test_routes import new_conversation


async def listed(client: httpx.AsyncClient, user: ApiUser, **query: Any) -> list[int]:
    response = await client.get(user.url("/conversations"), params=query, headers=user.headers)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def messages(client: httpx.AsyncClient, user: ApiUser, **query: Any) -> list[Any]:
    response = await client.get(
        user.url("/conversations/1/messages"), params=query, headers=user.headers
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_archived_conversations_leave_the_list_and_come_back(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    for _ in range(3):
        await new_conversation(client, alice)
    archived = await client.post(alice.url("/conversations/2/archive"), headers=alice.headers)
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    assert await listed(client, alice) == [3, 1]
    assert await listed(client, alice, archived="true") == [2]
    read = await client.get(alice.url("/conversations/2"), headers=alice.headers)
    assert read.json()["archived_at"] == archived.json()["archived_at"]

    again = await client.post(alice.url("/conversations/2/archive"), headers=alice.headers)
    assert again.json()["archived_at"] == archived.json()["archived_at"]
    back = await client.post(alice.url("/conversations/2/unarchive"), headers=alice.headers)
    assert back.json()["archived_at"] is None
    assert await listed(client, alice) == [2, 3, 1]
    assert await listed(client, alice, archived="true") == []


async def test_archived_conversations_page_with_a_cursor(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    for number in range(1, 6):
        await new_conversation(client, alice)
        if number != 3:
            await client.post(alice.url(f"/conversations/{number}/archive"), headers=alice.headers)
    first = await client.get(
        alice.url("/conversations"), params={"archived": "true", "limit": 2}, headers=alice.headers
    )
    assert [c["id"] for c in first.json()["items"]] == [5, 4]
    rest = await listed(client, alice, archived="true", cursor=first.json()["next_cursor"])
    assert rest == [2, 1]
    assert await listed(client, alice) == [3]


async def test_a_deleted_archived_conversation_is_listed_nowhere_until_restored(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    await new_conversation(client, alice)
    await client.post(alice.url("/conversations/1/archive"), headers=alice.headers)
    await client.delete(alice.url("/conversations/1"), headers=alice.headers)
    assert await listed(client, alice) == await listed(client, alice, archived="true") == []
    archive = await client.post(alice.url("/conversations/1/archive"), headers=alice.headers)
    assert archive.status_code == 404
    await client.post(alice.url("/conversations/1/restore"), headers=alice.headers)
    assert await listed(client, alice, archived="true") == [1]


async def test_an_archived_conversation_still_takes_turns_and_stays_archived(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    first = await say(client, alice, "Add a task to buy milk")
    number = first.json()["conversation_id"]
    await client.post(alice.url(f"/conversations/{number}/archive"), headers=alice.headers)
    reply = await say(client, alice, "Show me all my tasks", number)
    assert reply.status_code == 200, reply.text
    assert "Buy milk" in reply.json()["response"]
    assert await listed(client, alice, archived="true") == [number]


async def test_a_person_edits_their_message_and_its_metadata_keeps_the_old_text(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    reply = await say(client, alice, "hello there")
    assert reply.json()["conversation_id"] == 1
    before = await client.get(alice.url("/conversations/1"), headers=alice.headers)
    edited = await client.patch(
        alice.url("/conversations/1/messages/1"), json={"content": "hi"}, headers=alice.headers
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["seq"], body["content"]) == (1, "hi")
    assert body["metadata"]["previous_content"] == "hello there"
    assert body["metadata"]["edited_at"] > before.json()["updated_at"]
    again = await client.patch(
        alice.url("/conversations/1/messages/1"), json={"content": "hey"}, headers=alice.headers
    )
    assert again.json()["metadata"]["previous_content"] == "hi"
    assert (await messages(client, alice))[0]["content"] == "hey"
    after = await client.get(alice.url("/conversations/1"), headers=alice.headers)
    assert after.json()["updated_at"] > before.json()["updated_at"]


async def test_a_deleted_message_leaves_the_listing_unless_asked_for(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    await say(client, alice, "my password is hunter2")
    deleted = await client.delete(alice.url("/conversations/1/messages/1"), headers=alice.headers)
    assert deleted.status_code == 200
    assert deleted.json()["deleted_at"] is not None
    assert [m["seq"] for m in await messages(client, alice)] == [2]
    everything = await messages(client, alice, deleted="true")
    assert [(m["seq"], m["deleted_at"] is not None) for m in everything] == [(1, True), (2, False)]
    older = await messages(client, alice, deleted="true", before=2)
    assert [m["seq"] for m in older] == [1]
    gone = await client.delete(alice.url("/conversations/1/messages/1"), headers=alice.headers)
    assert gone.status_code == 404


async def test_only_a_persons_own_live_messages_change(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    await say(client, alice, "hello")
    assistant = await client.patch(
        alice.url("/conversations/1/messages/2"), json={"content": "x"}, headers=alice.headers
    )
    assert assistant.status_code == 422
    assert assistant.json()["fields"][0]["field"] == "seq"
    removed = await client.delete(alice.url("/conversations/1/messages/2"), headers=alice.headers)
    assert removed.status_code == 422
    for method, path in [
        ("PATCH", "/conversations/1/messages/1"),
        ("DELETE", "/conversations/1/messages/1"),
        ("POST", "/conversations/1/archive"),
        ("POST", "/conversations/1/unarchive"),
    ]:
        response = await client.request(
            method, bob.url(path), json={"content": "mine now"}, headers=bob.headers
        )
        assert response.status_code == 404, (method, path)
    missing = await client.patch(
        alice.url("/conversations/1/messages/9"), json={"content": "x"}, headers=alice.headers
    )
    assert missing.status_code == 404
    assert (await messages(client, alice))[0]["content"] == "hello"


@pytest.mark.parametrize(
    "body", [{"content": ""}, {"content": "   "}, {"content": "x" * 10_001}, {"text": "x"}, {}]
)
async def test_a_bad_edit_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, Any]
) -> None:
    await say(client, alice, "hello")
    response = await client.patch(
        alice.url("/conversations/1/messages/1"), json=body, headers=alice.headers
    )
    assert response.status_code == 422
    assert (await messages(client, alice))[0]["content"] == "hello"
