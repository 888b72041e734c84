"""PostgreSQL's lexeme tables, outside row-level security, follow the rows they index."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_user
from tests.search.test_store import conversation
from todochat.conversations.models import Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.tasks.models import TaskCreate, TaskUpdate
from todochat.tasks.store import TaskStore
from todochat.users.store import UserStore

ENTRIES = """
SELECT conversation_id, seq, NULL FROM message_search
WHERE user_id = :user_id AND search_vector @@ to_tsquery('english', :word)
UNION ALL
SELECT NULL, NULL, task_id FROM task_search
WHERE user_id = :user_id AND search_vector @@ to_tsquery('english', :word)
ORDER BY 1, 2, 3
"""
# The tables are PostgreSQL's (SQLite's FTS5 index has tests of its own).
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def entries(session: AsyncSession, user_id: str, word: str) -> list[tuple[int | None, ...]]:
    """The user's lexeme entries holding `word`: (conversation, seq, None) or (None, None, task)."""
    found = await session.execute(text(ENTRIES), {"user_id": user_id, "word": word})
    return [tuple(row) for row in found]


async def test_every_change_of_a_message_or_task_reaches_its_lexemes(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    first = await conversation(session, user, "buy milk", "milk again", "more milk")
    second = await conversation(session, user, "milk for the cat")
    await conversation(session, user, '{"title": "milk"}', role=Role.TOOL)
    tasks = TaskStore(session, user)
    await tasks.create(TaskCreate(title="Buy milk"))
    await tasks.create(TaskCreate(title="Pay rent", description="and milk money"))
    assert await entries(session, user, "milk") == [
        (first, 1, None), (first, 2, None), (first, 3, None), (second, 1, None),
        (None, None, 1), (None, None, 2),
    ]  # fmt: skip

    await MessageStore(session, user).edit(first, 1, "buy oats")
    await MessageStore(session, user).delete(first, 2)
    await ConversationStore(session, user).delete(second)
    await tasks.update(1, TaskUpdate(title="Buy oats"))
    await tasks.delete(2)
    assert await entries(session, user, "milk") == [(first, 3, None)]
    assert await entries(session, user, "oats") == [(first, 1, None), (None, None, 1)]

    await UserStore(session, user).delete()
    assert await entries(session, user, "milk | oats") == []
