"""The account store: one user's rows of every table, read page by page and loaded whole."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, exists, func, insert, or_, select, update

from todochat.conversations.models import Conversation, Message
from todochat.db import Store
from todochat.orm import table
from todochat.tasks.models import Task
from todochat.transfer.format import ConversationLine, MessageLine, TaskLine, UserLine
from todochat.users.models import User

USER = ("email", "name", "created_at", "updated_at", "last_task_id", "last_conversation_id")
TASK = (
    "id", "title", "description", "completed", "priority", "tags",
    "created_at", "updated_at", "completed_at",
)  # fmt: skip
CONVERSATION = (
    "id", "key", "title", "metadata", "created_at", "updated_at", "deleted_at", "archived_at",
    "last_seq",
)  # fmt: skip
MESSAGE = (
    "conversation_id", "seq", "key", "role", "content", "tool_calls", "tool_results", "metadata",
    "created_at", "deleted_at",
)  # fmt: skip


def _columns(model: Any, names: Sequence[str]) -> list[Any]:
    return [table(model).c[name] for name in names]


class AccountStore(Store):
    """Everything one user owns, soft-deleted rows included, for export and import."""

    async def user(self) -> Row[Any] | None:
        """The user's row (`USER` columns), if there is one."""
        found = await self.session.execute(
            select(*_columns(User, USER)).where(User.id == self.user_id)
        )
        return found.first()

    async def tasks(self, after: int, up_to: int, limit: int) -> Sequence[Row[Any]]:
        """Up to `limit` tasks numbered after `after` and at most `up_to`, by number."""
        found = await self.session.execute(
            select(*_columns(Task, TASK))
            .where(Task.user_id == self.user_id, Task.id > after, Task.id <= up_to)
            .order_by(Task.id)
            .limit(limit)
        )
        return found.all()

    async def conversations(self, after: int, up_to: int, limit: int) -> Sequence[Row[Any]]:
        """Up to `limit` conversations numbered after `after` and at most `up_to`, by number."""
        found = await self.session.execute(
            select(*_columns(Conversation, CONVERSATION))
            .where(
                Conversation.user_id == self.user_id,
                Conversation.id > after,
                Conversation.id <= up_to,
            )
            .order_by(Conversation.id)
            .limit(limit)
        )
        return found.all()

    async def messages(
        self, conversation_id: int, after: int, up_to: int, limit: int
    ) -> Sequence[Row[Any]]:
        """Up to `limit` messages of a conversation after seq `after`, at most `up_to`."""
        found = await self.session.execute(
            select(*_columns(Message, MESSAGE))
            .where(
                Message.user_id == self.user_id,
                Message.conversation_id == conversation_id,
                Message.seq > after,
                Message.seq <= up_to,
            )
            .order_by(Message.seq)
            .limit(limit)
        )
        return found.all()

    async def count(self) -> int:
        """How many tasks, conversations and messages the user has."""
        total = 0
        for model in (Task, Conversation, Message):
            found = await self.session.scalar(
                select(func.count()).select_from(model).where(model.user_id == self.user_id)
            )
            total += found or 0
        return total

    async def is_empty(self) -> bool:
        """Whether the user owns nothing and has been handed no numbers (or does not exist)."""
        used = await self.session.scalar(
            select(
                exists().where(
                    User.id == self.user_id,
                    or_(User.last_task_id > 0, User.last_conversation_id > 0),
                )
                | exists().where(Task.user_id == self.user_id)
                | exists().where(Conversation.user_id == self.user_id)
            )
        )
        return not used

    async def load_user(self, user: UserLine) -> None:
        """Create the user, or give an empty existing one the file's profile and counters."""
        values = user.model_dump(include=set(USER))
        if await self.user() is None:
            await self.session.execute(insert(table(User)), {"id": self.user_id, **values})
        else:
            await self.session.execute(
                update(table(User)).where(table(User).c.id == self.user_id).values(values)
            )

    async def load_tasks(self, tasks: Sequence[TaskLine]) -> None:
        """Insert tasks as they are, numbers and timestamps included."""
        await self._load(Task, [task.model_dump(include=set(TASK)) for task in tasks])

    async def load_conversations(self, conversations: Sequence[ConversationLine]) -> None:
        """Insert conversations as they are, counters included."""
        rows = [c.model_dump(include=set(CONVERSATION)) for c in conversations]
        await self._load(Conversation, rows)

    async def load_messages(self, messages: Sequence[MessageLine]) -> None:
        """Insert messages as they are."""
        await self._load(Message, [m.model_dump(include=set(MESSAGE)) for m in messages])

    async def _load(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(
                insert(table(model)), [{"user_id": self.user_id, **row} for row in rows]
            )
