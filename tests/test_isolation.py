"""Every store operation given another user's number finds nothing and changes nothing."""

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_user
from todochat.conversations.models import ConversationUpdate, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import act_for
from todochat.errors import NotFound
from todochat.tasks.models import TaskCreate, TaskUpdate
from todochat.tasks.store import TaskStore

Operation = Callable[[AsyncSession, str], Awaitable[object]]
HELLO = [MessageCreate(role=Role.USER, content="let me in")]

OPERATIONS: dict[str, Operation] = {
    "task get": lambda s, u: TaskStore(s, u).get(1),
    "task update": lambda s, u: TaskStore(s, u).update(1, TaskUpdate(title="pwned")),
    "task complete": lambda s, u: TaskStore(s, u).complete(1),
    "task reopen": lambda s, u: TaskStore(s, u).reopen(1),
    "task delete": lambda s, u: TaskStore(s, u).delete(1),
    "conversation get": lambda s, u: ConversationStore(s, u).get(1, include_deleted=True),
    "conversation update": lambda s, u: ConversationStore(s, u).update(
        1, ConversationUpdate(title="pwned")
    ),
    "conversation soft delete": lambda s, u: ConversationStore(s, u).soft_delete(1),
    "conversation restore": lambda s, u: ConversationStore(s, u).restore(1),
    "conversation delete": lambda s, u: ConversationStore(s, u).delete(1),
    "messages append": lambda s, u: MessageStore(s, u).append(1, HELLO),
    "messages latest": lambda s, u: MessageStore(s, u).latest(1),
    "messages before": lambda s, u: MessageStore(s, u).before(1, 3),
    "message get": lambda s, u: MessageStore(s, u).get(1, 1),
}

SNAPSHOT = """
SELECT 'task', id, title || completed || coalesce(description, '') FROM tasks WHERE user_id = :u
UNION ALL
SELECT 'conversation', id, coalesce(title, '') || coalesce(CAST(deleted_at AS TEXT), '') || last_seq
FROM conversations WHERE user_id = :u
UNION ALL
SELECT 'message', seq, content FROM messages WHERE user_id = :u
ORDER BY 1, 2
"""


async def snapshot(session: AsyncSession, user_id: str) -> list[tuple[object, ...]]:
    rows = await session.execute(text(SNAPSHOT), {"u": user_id})
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
async def test_another_users_number_finds_nothing_and_changes_nothing(
    session: AsyncSession, operation: Operation
) -> None:
    alice = await new_user(session, "alice")
    await TaskStore(session, alice).create(TaskCreate(title="Alice's secret"))
    await ConversationStore(session, alice).create()
    await MessageStore(session, alice).append(
        1, [MessageCreate(role=Role.USER, content=f"private {n}") for n in range(3)]
    )
    before = await snapshot(session, alice)
    assert len(before) == 5

    mallory = await new_user(session, "mallory")
    with pytest.raises(NotFound):
        await operation(session, mallory)

    act_for(session, alice)
    assert await snapshot(session, alice) == before
    assert await snapshot(session, mallory) == []


async def test_listings_show_only_the_users_own_rows(session: AsyncSession) -> None:
    alice = await new_user(session, "alice")
    await TaskStore(session, alice).create(TaskCreate(title="Alice's"))
    await ConversationStore(session, alice).create()
    bob = await new_user(session, "bob")
    assert await TaskStore(session, bob).list() == []
    assert (await ConversationStore(session, bob).list()).items == []


async def test_a_store_refuses_a_session_acting_for_someone_else(session: AsyncSession) -> None:
    await new_user(session, "alice")
    with pytest.raises(ValueError, match="does not act for user 'bob'"):
        TaskStore(session, "bob")
