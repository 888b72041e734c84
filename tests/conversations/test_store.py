import math
from datetime import UTC, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_user
from todochat.conversations.models import (
    ConversationCreate,
    ConversationUpdate,
    Message,
    MessageCreate,
    Role,
)
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.errors import Invalid, NotFound, TurnInProgress
from todochat.orm import utcnow
from todochat.validation import parse


class Stores:
    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.user_id = user_id
        self.conversations = ConversationStore(session, user_id)
        self.messages = MessageStore(session, user_id)


async def stores_of_new_user(session: AsyncSession) -> Stores:
    return Stores(session, await new_user(session))


def said(*contents: str, role: Role = Role.USER) -> list[MessageCreate]:
    return [MessageCreate(role=role, content=content) for content in contents]


async def test_conversations_are_numbered_per_user(session: AsyncSession) -> None:
    alice = await stores_of_new_user(session)
    first = await alice.conversations.create()
    second = await alice.conversations.create(
        parse(ConversationCreate, {"title": " Groceries ", "metadata": {"source": "web"}})
    )
    assert (first.id, first.title, first.meta) == (1, None, None)
    assert (second.id, second.title, second.meta) == (2, "Groceries", {"source": "web"})
    bob = await stores_of_new_user(session)
    assert (await bob.conversations.create()).id == 1


async def test_messages_get_seq_in_acceptance_order(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    first = await s.messages.append(1, said("hello"))
    rest = await s.messages.append(
        1,
        [
            MessageCreate(role=Role.ASSISTANT, content="", tool_calls=[{"tool": "list_tasks"}]),
            MessageCreate(
                role=Role.TOOL,
                content="[]",
                tool_results=[{"tasks": []}],
                metadata={"model": "offline"},
            ),
        ],
    )
    assert [m.seq for m in first + rest] == [1, 2, 3]
    history = await s.messages.latest(1)
    assert [(m.seq, m.role, m.content) for m in history] == [
        (1, Role.USER, "hello"),
        (2, Role.ASSISTANT, ""),
        (3, Role.TOOL, "[]"),
    ]
    assert history[1].tool_calls == [{"tool": "list_tasks"}]
    assert history[2].tool_results == [{"tasks": []}]
    assert (history[1].meta, history[2].meta) == (None, {"model": "offline"})


async def test_appending_moves_the_conversation_updated_at(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    conversation = await s.conversations.create()
    before = conversation.updated_at
    [message] = await s.messages.append(1, said("hi"))
    after = (await s.conversations.get(1)).updated_at
    assert after > before
    assert after == message.created_at


async def test_latest_and_before_page_backwards_in_chronological_order(
    session: AsyncSession,
) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    await s.messages.append(1, said(*(f"m{n}" for n in range(1, 11))))
    assert [m.seq for m in await s.messages.latest(1, limit=3)] == [8, 9, 10]
    assert [m.seq for m in await s.messages.before(1, 8, limit=3)] == [5, 6, 7]
    assert [m.seq for m in await s.messages.before(1, 3, limit=3)] == [1, 2]
    assert await s.messages.before(1, 1) == []
    assert (await s.messages.get(1, 4)).content == "m4"
    with pytest.raises(NotFound):
        await s.messages.get(1, 11)


async def test_an_empty_conversation_has_no_messages_but_a_missing_one_is_not_found(
    session: AsyncSession,
) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    assert await s.messages.latest(1) == []
    with pytest.raises(NotFound, match="conversation 2 not found"):
        await s.messages.latest(2)


async def test_list_pages_most_recent_activity_first_with_a_cursor(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    for _ in range(5):
        await s.conversations.create()
    await s.messages.append(2, said("bump"))
    await s.conversations.soft_delete(4)
    page = await s.conversations.list(limit=2)
    assert [c.id for c in page.items] == [2, 5]
    assert page.next_cursor is not None
    page = await s.conversations.list(limit=2, cursor=page.next_cursor)
    assert [c.id for c in page.items] == [3, 1]
    assert page.next_cursor is None


async def test_a_forged_cursor_is_invalid(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    for cursor in ("nonsense", "bm90fGE=", ""):
        with pytest.raises(Invalid, match="cursor"):
            await s.conversations.list(cursor=cursor)


async def test_rename_soft_delete_restore_and_hard_delete(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    await s.messages.append(1, said("keep me"))
    renamed = await s.conversations.update(1, parse(ConversationUpdate, {"title": "Plans"}))
    assert renamed.title == "Plans"

    deleted = await s.conversations.soft_delete(1)
    assert deleted.deleted_at is not None
    assert deleted.deleted_at.tzinfo is UTC
    with pytest.raises(NotFound):
        await s.conversations.get(1)
    with pytest.raises(NotFound):
        await s.messages.latest(1)
    with pytest.raises(NotFound):
        await s.messages.append(1, said("into the void"))
    assert (await s.conversations.list()).items == []

    restored = await s.conversations.restore(1)
    assert restored.deleted_at is None
    assert [m.content for m in await s.messages.latest(1)] == ["keep me"]

    await s.conversations.delete(1)
    with pytest.raises(NotFound):
        await s.conversations.get(1, include_deleted=True)
    count = await session.scalar(
        select(func.count()).select_from(Message).where(Message.user_id == s.user_id)
    )
    assert count == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"role": "robot", "content": "hi"}, "role"),
        ({"role": "USER", "content": "hi"}, "role"),
        ({"role": "user", "content": "nul \x00"}, "content"),
        ({"role": "user", "content": "x" * 100_001}, "content"),
        ({"role": "user", "content": "hi", "metadata": {"n": math.nan}}, "metadata.n"),
        ({"role": "user", "content": "hi", "metadata": {"k": ["nul \x00"]}}, "metadata.k.0"),
        ({"role": "user", "content": "hi", "metadata": ["not", "an", "object"]}, "metadata"),
        ({"role": "user", "content": "hi", "tool_calls": {"not": "a list"}}, "tool_calls"),
        ({"role": "user", "content": 42}, "content"),
    ],
)
async def test_invalid_message_input_names_the_field_and_writes_nothing(
    session: AsyncSession, data: dict[str, object], field: str
) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    with pytest.raises(Invalid) as raised:
        await s.messages.append(1, [parse(MessageCreate, data)])
    assert raised.value.errors[0].field == field
    assert await s.messages.latest(1) == []


async def test_a_message_to_a_missing_conversation_is_not_found_and_writes_nothing(
    session: AsyncSession,
) -> None:
    s = await stores_of_new_user(session)
    with pytest.raises(NotFound, match="conversation 1 not found"):
        await s.messages.append(1, said("hello?"))
    with pytest.raises(Invalid, match="messages"):
        await s.messages.append(1, [])
    count = await session.scalar(
        select(func.count()).select_from(Message).where(Message.user_id == s.user_id)
    )
    assert count == 0


async def test_roles_are_stored_lowercase(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    await s.messages.append(1, said("hi", role=Role.ASSISTANT))
    stored = await session.scalar(
        text("SELECT role FROM messages WHERE user_id = :user_id"), {"user_id": s.user_id}
    )
    assert stored == "assistant"


async def test_the_database_refuses_an_unknown_role_written_around_the_store(
    session: AsyncSession,
) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    with pytest.raises(IntegrityError, match="ck_messages_role"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO messages (user_id, conversation_id, seq, role, content)"
                    " VALUES (:user_id, 1, 1, 'USER', 'hi')"
                ),
                {"user_id": s.user_id},
            )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    title=st.text(
        st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]), min_size=1, max_size=255
    ),
)
async def test_any_unicode_text_round_trips_exactly(
    session: AsyncSession, content: str, title: str
) -> None:
    s = await stores_of_new_user(session)
    conversation = await s.conversations.create(
        ConversationCreate(title=title, metadata={title: content})
    )
    await s.messages.append(conversation.id, said(content))
    session.expunge_all()
    [message] = await s.messages.latest(conversation.id)
    stored = await s.conversations.get(conversation.id)
    assert (message.content, stored.title, stored.meta) == (content, title, {title: content})


async def test_json_values_round_trip_exactly_even_past_64_bits(session: AsyncSession) -> None:
    values = {"past": 2**70 + 1, "below": -(2**63) - 1, "top": 2**64 - 1, "tenth": 0.1, "tags": []}
    s = await stores_of_new_user(session)
    conversation = await s.conversations.create(ConversationCreate(metadata=values))
    await s.messages.append(
        conversation.id, [MessageCreate(role=Role.USER, content="numbers", metadata=values)]
    )
    session.expunge_all()
    [message] = await s.messages.latest(conversation.id)
    stored = await s.conversations.get(conversation.id)
    for read in (message.meta, stored.meta):
        assert read == values
        assert all(type(read[key]) is int for key in ("past", "below", "top"))


async def test_what_a_message_does_not_carry_is_sql_null_not_json_null(
    session: AsyncSession,
) -> None:
    alice = await stores_of_new_user(session)
    conversation = await alice.conversations.create()
    await alice.messages.append(conversation.id, said("plain"))
    nulls = await session.execute(
        text(
            "SELECT tool_calls IS NULL, tool_results IS NULL, metadata IS NULL FROM messages"
            " WHERE user_id = :user"
        ),
        {"user": alice.user_id},
    )
    assert [tuple(row) for row in nulls] == [(True, True, True)]


async def test_a_message_appended_with_a_claim_holds_the_conversation_for_the_turn(
    session: AsyncSession,
) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    until = utcnow() + timedelta(minutes=1)
    [person] = await s.messages.append(1, said("add milk"), claim=until)
    with pytest.raises(TurnInProgress):
        await s.messages.append(1, said("add bread"), claim=until + timedelta(seconds=1))
    with pytest.raises(TurnInProgress):
        await s.conversations.claim_turn(1, until)
    with pytest.raises(NotFound):
        await s.messages.append(2, said("hello"), claim=until)
    assert [m.content for m in await s.messages.latest(1)] == ["add milk"]
    assert person.seq == 1


async def test_a_message_appended_with_a_release_ends_only_the_turn_it_names(
    session: AsyncSession,
) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    until = utcnow() + timedelta(minutes=1)
    await s.messages.append(1, said("add milk"), claim=until)
    await s.messages.append(
        1, said("Added.", role=Role.ASSISTANT), release=until - timedelta(seconds=1)
    )
    with pytest.raises(TurnInProgress):  # another turn's release leaves this claim alone
        await s.conversations.claim_turn(1, until)
    await s.messages.append(1, said("Added milk.", role=Role.ASSISTANT), release=until)
    await s.conversations.claim_turn(1, until)
    assert [m.seq for m in await s.messages.latest(1)] == [1, 2, 3]


async def test_an_expired_claim_gives_way_to_the_next_turn(session: AsyncSession) -> None:
    s = await stores_of_new_user(session)
    await s.conversations.create()
    await s.messages.append(1, said("add milk"), claim=utcnow() - timedelta(seconds=1))
    await s.messages.append(1, said("add bread"), claim=utcnow() + timedelta(minutes=1))
    assert [m.content for m in await s.messages.latest(1)] == ["add milk", "add bread"]
