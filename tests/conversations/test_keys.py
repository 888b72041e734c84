"""Keys: the names callers give conversations (unique per user) and messages (per conversation)."""

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ApiUser, committed_user, new_user
from todochat.conversations.models import (
    ConversationCreate,
    ConversationUpdate,
    MessageCreate,
    Role,
)
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database, act_for
from todochat.errors import Conflict, Invalid, NotFound
from todochat.validation import parse


def said(*contents: str, key: str | None = None) -> list[MessageCreate]:
    return [MessageCreate(key=key, role=Role.USER, content=content) for content in contents]


async def test_a_conversation_is_found_by_its_key(session: AsyncSession) -> None:
    user = await new_user(session)
    conversations = ConversationStore(session, user)
    await conversations.create()
    created = await conversations.create(ConversationCreate(key="support-42", title="Help"))
    found = await conversations.by_key("support-42")
    assert (found.id, found.key, found.title) == (created.id, "support-42", "Help")
    with pytest.raises(NotFound):
        await conversations.by_key("support-43")


async def test_a_taken_key_is_a_conflict_that_uses_up_no_number(session: AsyncSession) -> None:
    user = await new_user(session)
    conversations = ConversationStore(session, user)
    await conversations.create(ConversationCreate(key="k"))
    with pytest.raises(Conflict, match="another conversation has the key 'k'"):
        await conversations.create(ConversationCreate(key="k"))
    assert (await conversations.create()).id == 2


async def test_the_same_key_names_one_conversation_of_each_user(session: AsyncSession) -> None:
    alice = ConversationStore(session, await new_user(session))
    await alice.create(ConversationCreate(title="Alice's"))
    bob = ConversationStore(session, await new_user(session))
    await bob.create(ConversationCreate(key="shared", title="Bob's"))
    act_for(session, alice.user_id)
    with pytest.raises(NotFound):
        await alice.by_key("shared")
    await alice.create(ConversationCreate(key="shared", title="Alice's second"))
    assert (await alice.by_key("shared")).title == "Alice's second"


async def test_a_key_is_changed_cleared_and_refused_when_taken(session: AsyncSession) -> None:
    user = await new_user(session)
    conversations = ConversationStore(session, user)
    await conversations.create(ConversationCreate(key="first"))
    await conversations.create()
    renamed = await conversations.update(2, ConversationUpdate(key="second"))
    assert renamed.key == "second"
    with pytest.raises(Conflict):
        await conversations.update(2, ConversationUpdate(key="first"))
    cleared = await conversations.update(1, parse(ConversationUpdate, {"key": None}))
    assert cleared.key is None
    assert (await conversations.update(2, ConversationUpdate(key="first"))).key == "first"


async def test_a_soft_deleted_conversation_keeps_its_key(session: AsyncSession) -> None:
    user = await new_user(session)
    conversations = ConversationStore(session, user)
    await conversations.create(ConversationCreate(key="k"))
    await conversations.soft_delete(1)
    with pytest.raises(NotFound):
        await conversations.by_key("k")
    assert (await conversations.by_key("k", include_deleted=True)).id == 1
    with pytest.raises(Conflict):
        await conversations.create(ConversationCreate(key="k"))


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("", "at least 1 character"),
        ("k" * 256, "at most 255 characters"),
        ("nul\x00", "NUL"),
        ("conversation-7", "names conversation N"),
    ],
)
def test_a_bad_key_is_invalid(key: str, rule: str) -> None:
    with pytest.raises(Invalid, match=rule):
        parse(ConversationCreate, {"key": key})


def test_keys_are_kept_exactly_as_given() -> None:
    for key in (" padded ", "Übung 1", "conversation-x", "conversation-", "k" * 255):
        assert parse(ConversationCreate, {"key": key}).key == key


async def test_concurrent_creators_of_one_key_make_one_conversation(database: Database) -> None:
    user = await committed_user(database)

    async def create() -> int:
        async with database.transaction(user) as session:
            return (await ConversationStore(session, user).create(ConversationCreate(key="k"))).id

    outcomes = await asyncio.gather(*(create() for _ in range(4)), return_exceptions=True)
    assert [o for o in outcomes if not isinstance(o, Conflict)] == [1]
    async with database.transaction(user) as session:
        assert (await ConversationStore(session, user).create()).id == 2  # no number lost


async def test_a_message_is_found_by_its_key_within_its_conversation(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    conversations, messages = ConversationStore(session, user), MessageStore(session, user)
    await conversations.create()
    await conversations.create()
    await messages.append(1, said("plain"))
    await messages.append(1, said("named", key="msg_1"))
    await messages.append(2, said("same name, other conversation", key="msg_1"))
    found = await messages.by_key(1, "msg_1")
    assert (found.seq, found.key, found.content) == (2, "msg_1", "named")
    assert (await messages.by_key(2, "msg_1")).content == "same name, other conversation"
    with pytest.raises(Conflict, match="another message has the key 'msg_1'"):
        await messages.append(1, said("again", key="msg_1"))


async def test_a_message_key_of_the_numbered_form_is_invalid() -> None:
    with pytest.raises(Invalid, match="names message N"):
        parse(MessageCreate, {"key": "message-3", "role": "user", "content": "hi"})


async def test_messages_read_forward_after_a_seq(session: AsyncSession) -> None:
    user = await new_user(session)
    await ConversationStore(session, user).create()
    messages = MessageStore(session, user)
    await messages.append(1, said(*(f"m{n}" for n in range(1, 6))))
    assert [m.seq for m in await messages.after(1, 0, limit=2)] == [1, 2]
    assert [m.seq for m in await messages.after(1, 2, limit=2)] == [3, 4]
    assert [m.seq for m in await messages.after(1, 4, limit=2)] == [5]
    assert await messages.after(1, 5) == []
    with pytest.raises(NotFound):
        await messages.after(2, 0)


async def test_a_message_is_replaced_in_place_and_deleted_for_good(session: AsyncSession) -> None:
    user = await new_user(session)
    conversations, messages = ConversationStore(session, user), MessageStore(session, user)
    await conversations.create()
    [first, second] = await messages.append(1, said("one", "two", key=None))
    touched = (await conversations.get(1)).updated_at
    replaced = await messages.replace(
        1, 1, MessageCreate(role=Role.ASSISTANT, content="uno", metadata={"lang": "it"})
    )
    assert replaced == (await messages.get(1, 1))
    assert (replaced.seq, replaced.role, replaced.content, replaced.meta) == (
        1,
        Role.ASSISTANT,
        "uno",
        {"lang": "it"},
    )
    assert replaced.created_at == first.created_at
    assert (await conversations.get(1)).updated_at > touched
    await messages.delete(1, 2)
    assert [m.content for m in await messages.latest(1)] == ["uno"]
    with pytest.raises(NotFound):
        await messages.delete(1, 2)
    with pytest.raises(NotFound):
        await messages.replace(1, second.seq, MessageCreate(role=Role.USER, content="x"))
    [third] = await messages.append(1, said("three"))
    assert third.seq == 3
    await messages.clear(1)
    assert await messages.latest(1) == []


async def test_conversations_page_in_the_order_they_were_started(session: AsyncSession) -> None:
    user = await new_user(session)
    conversations = ConversationStore(session, user)
    for _ in range(5):
        await conversations.create()
    await conversations.soft_delete(3)
    await MessageStore(session, user).append(1, said("bump"))  # activity does not reorder
    assert [c.id for c in await conversations.in_order(limit=2)] == [1, 2]
    assert [c.id for c in await conversations.in_order(limit=2, after=2)] == [4, 5]
    assert [c.id for c in await conversations.in_order(limit=9, newest_first=True)] == [5, 4, 2, 1]
    assert [c.id for c in await conversations.in_order(limit=9, after=4, newest_first=True)] == [
        2,
        1,
    ]


async def test_rest_creates_finds_and_renames_conversations_by_key(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    created = await client.post(
        alice.url("/conversations"), json={"key": "support-42"}, headers=alice.headers
    )
    assert (created.status_code, created.json()["key"]) == (201, "support-42")
    await client.post(alice.url("/conversations"), json={}, headers=alice.headers)
    found = await client.get(alice.url("/conversations?key=support-42"), headers=alice.headers)
    assert found.json() == {"items": [created.json()], "next_cursor": None}
    missing = await client.get(alice.url("/conversations?key=support-43"), headers=alice.headers)
    assert missing.json() == {"items": [], "next_cursor": None}
    theirs = await client.get(bob.url("/conversations?key=support-42"), headers=bob.headers)
    assert theirs.json()["items"] == []

    taken = await client.patch(
        alice.url("/conversations/2"), json={"key": "support-42"}, headers=alice.headers
    )
    assert taken.status_code == 409
    assert taken.json() == {
        "error": "conflict",
        "detail": "another conversation has the key 'support-42'",
        "fields": [{"field": "key", "rule": "is taken"}],
    }
    again = await client.post(
        alice.url("/conversations"), json={"key": "support-42"}, headers=alice.headers
    )
    assert again.status_code == 409
    renamed = await client.patch(
        alice.url("/conversations/2"), json={"key": "support-43"}, headers=alice.headers
    )
    assert renamed.json()["key"] == "support-43"
    listing = await client.get(alice.url("/conversations"), headers=alice.headers)
    assert [(c["id"], c["key"]) for c in listing.json()["items"]] == [
        (2, "support-43"),
        (1, "support-42"),
    ]


@pytest.mark.parametrize("key", ["", "k" * 256, "conversation-1"])
async def test_rest_refuses_a_bad_key_with_a_422(
    client: httpx.AsyncClient, alice: ApiUser, key: str
) -> None:
    response = await client.post(
        alice.url("/conversations"), json={"key": key}, headers=alice.headers
    )
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["key"]
    lookup = await client.get(
        alice.url("/conversations"), params={"key": key}, headers=alice.headers
    )
    assert lookup.status_code == (200 if key == "conversation-1" else 422)
