"""Export: one user's data as JSON Lines, streamed page by page in constant memory.

Each page is read in a short read session of its own, and none is open while a page is
written out: a slow reader holds no connection. The numbers are bounded by the counters read
first, so rows created meanwhile are left out and the file is always one an import accepts.
"""

from collections.abc import AsyncIterator

from todochat.db import Database
from todochat.errors import NotFound
from todochat.transfer.format import header, line
from todochat.transfer.store import CONVERSATION, MESSAGE, TASK, USER, AccountStore

PAGE = 500
CONVERSATION_PAGE = 50


async def export_pages(database: Database, user_id: str) -> AsyncIterator[list[str]]:
    """The export file of `user_id`, some lines at a time; `NotFound` if no such user."""
    async with database.read(user_id) as session:
        user = await AccountStore(session, user_id).user()
    if user is None:
        raise NotFound("user", user_id)
    profile = dict(zip(USER, user, strict=True))
    yield [header(), line("user", {"id": user_id, **profile})]
    after = 0
    while True:
        async with database.read(user_id) as session:
            tasks = await AccountStore(session, user_id).tasks(after, profile["last_task_id"], PAGE)
        if not tasks:
            break
        yield [line("task", dict(zip(TASK, task, strict=True))) for task in tasks]
        after = tasks[-1].id
    after = 0
    while True:
        async with database.read(user_id) as session:
            conversations = await AccountStore(session, user_id).conversations(
                after, profile["last_conversation_id"], CONVERSATION_PAGE
            )
        if not conversations:
            break
        for conversation in conversations:
            yield [line("conversation", dict(zip(CONVERSATION, conversation, strict=True)))]
            number, last_seq = conversation.id, conversation.last_seq
            async for messages in _messages(database, user_id, number, last_seq):
                yield messages
        after = conversations[-1].id


async def _messages(
    database: Database, user_id: str, conversation_id: int, last_seq: int
) -> AsyncIterator[list[str]]:
    after = 0
    while True:
        async with database.read(user_id) as session:
            messages = await AccountStore(session, user_id).messages(
                conversation_id, after, last_seq, PAGE
            )
        if not messages:
            return
        yield [line("message", dict(zip(MESSAGE, message, strict=True))) for message in messages]
        after = messages[-1].seq


async def export_size(database: Database, user_id: str) -> int:
    """How many task, conversation and message lines an export of `user_id` holds, about."""
    async with database.read(user_id) as session:
        return await AccountStore(session, user_id).count()
