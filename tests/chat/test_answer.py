"""`Chat.answer`: a turn on a person's message that is already stored (ChatKit, retries)."""

import pytest

from tests.conftest import committed_user
from todochat.chat.offline import OfflineAssistant
from todochat.chat.turn import Chat
from todochat.conversations.models import ConversationCreate, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import Invalid, NotFound
from todochat.users.auth import Identity
from todochat.users.models import UserProfile
from todochat.users.store import KnownUsers


async def conversation_with(database: Database, user: str, *said: MessageCreate) -> None:
    async with database.transaction(user) as session:
        await ConversationStore(session, user).create(ConversationCreate())
        await MessageStore(session, user).append(1, list(said))


async def test_a_stored_message_is_answered_without_storing_it_again(database: Database) -> None:
    user = await committed_user(database)
    chat = Chat(database, OfflineAssistant(), KnownUsers(database), deadline=10)
    await conversation_with(
        database,
        user,
        MessageCreate(role=Role.USER, content="add buy milk"),
        MessageCreate(role=Role.USER, content="add call mom"),
    )
    turn = await chat.answer(Identity(user, UserProfile()), 1, 1, reply_key="msg_reply")
    reply = await turn.reply()
    assert reply.response == 'Added task 1: "Buy milk".'
    async with database.read(user) as session:
        stored = await MessageStore(session, user).latest(1)
    assert [(m.seq, m.key, m.role, m.content) for m in stored] == [
        (1, None, Role.USER, "add buy milk"),
        (2, None, Role.USER, "add call mom"),
        (3, None, Role.TOOL, '{"task_id": 1, "status": "created", "title": "Buy milk"}'),
        (4, "msg_reply", Role.ASSISTANT, 'Added task 1: "Buy milk".'),
    ]
    await chat.close()


async def test_only_a_persons_stored_message_can_be_answered(database: Database) -> None:
    user = await committed_user(database)
    chat = Chat(database, OfflineAssistant(), KnownUsers(database), deadline=10)
    await conversation_with(database, user, MessageCreate(role=Role.ASSISTANT, content="Hi!"))
    identity = Identity(user, UserProfile())
    with pytest.raises(Invalid, match="seq"):
        await chat.answer(identity, 1, 1)
    with pytest.raises(NotFound, match="message"):
        await chat.answer(identity, 1, 2)
    with pytest.raises(NotFound, match="conversation"):
        await chat.answer(identity, 2, 1)
    # Nothing ran: the conversation is not held by a turn.
    async with database.transaction(user) as session:
        await MessageStore(session, user).append(1, [MessageCreate(role=Role.USER, content="hi")])
    assert (await (await chat.answer(identity, 1, 2)).reply()).response
    await chat.close()
