"""Import: an export file loaded into an empty account in one transaction, whole or not at all.

The file is read line by line and written in batches, so memory stays flat however long it
is; any line that breaks a rule rolls the whole import back.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from todochat.db import Database
from todochat.errors import AccountInUse, Invalid
from todochat.transfer.format import (
    LINE,
    AnyLine,
    ConversationLine,
    HeaderLine,
    MessageLine,
    TaskLine,
    UserLine,
)
from todochat.transfer.store import AccountStore
from todochat.validation import invalid

BATCH = 500


@dataclass
class Imported:
    """What an import wrote."""

    user_id: str
    tasks: int = 0
    conversations: int = 0
    messages: int = 0


def _refused(number: int, rule: str) -> Invalid:
    return Invalid.field(f"line {number}", rule)


def _next(numbered: Iterator[tuple[int, bytes]], progress: Callable[[int], None]) -> AnyLine | None:
    for number, raw in numbered:
        progress(len(raw))
        return _parse(number, raw)
    return None


def _parse(number: int, raw: bytes) -> AnyLine:
    try:
        return LINE.validate_json(raw)
    except ValidationError as error:
        found = invalid(error).errors
        raise Invalid.field(f"line {number}", "; ".join(map(str, found))) from None


@dataclass
class _Loader:
    """The rules of the file's order, and the rows waiting to be written."""

    account: AccountStore
    user: UserLine
    imported: Imported
    last_task: int = 0
    conversation: ConversationLine | None = None
    last_seq: int = 0
    tasks: list[TaskLine] = field(default_factory=list)
    conversations: list[ConversationLine] = field(default_factory=list)
    messages: list[MessageLine] = field(default_factory=list)

    async def take(self, number: int, row: AnyLine) -> None:
        match row:
            case TaskLine():
                if self.conversation is not None:
                    raise _refused(number, "tasks must come before the conversations")
                if not self.last_task < row.id <= self.user.last_task_id:
                    raise _refused(number, "task numbers must rise, up to the user's last_task_id")
                self.last_task = row.id
                self.tasks.append(row)
            case ConversationLine():
                last = self.conversation.id if self.conversation else 0
                if not last < row.id <= self.user.last_conversation_id:
                    raise _refused(
                        number, "conversation numbers must rise, up to last_conversation_id"
                    )
                self.conversation, self.last_seq = row, 0
                self.conversations.append(row)
            case MessageLine():
                if self.conversation is None or row.conversation_id != self.conversation.id:
                    raise _refused(number, "a message must follow its conversation")
                if not self.last_seq < row.seq <= self.conversation.last_seq:
                    raise _refused(number, "message seqs must rise, up to its last_seq")
                self.last_seq = row.seq
                self.messages.append(row)
            case _:
                raise _refused(number, f"a {row.type} line belongs only at the start")
        if len(self.tasks) + len(self.conversations) + len(self.messages) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        """Write what waits, parents first."""
        await self.account.load_tasks(self.tasks)
        await self.account.load_conversations(self.conversations)
        await self.account.load_messages(self.messages)
        self.imported.tasks += len(self.tasks)
        self.imported.conversations += len(self.conversations)
        self.imported.messages += len(self.messages)
        self.tasks, self.conversations, self.messages = [], [], []


async def import_lines(
    database: Database,
    lines: Iterable[bytes],
    *,
    as_user: str | None = None,
    progress: Callable[[int], None] = lambda size: None,
) -> Imported:
    """Load an export file (its lines, as bytes) into an empty account: the file's user, or
    `as_user`. Raises `Invalid` (naming the line) or `AccountInUse`, having written nothing.

    `progress(size)` hears of each line read, by its size in bytes.
    """
    numbered = enumerate(lines, 1)
    if not isinstance(_next(numbered, progress), HeaderLine):
        raise _refused(1, "must be the header of a todochat export")
    user = _next(numbered, progress)
    if not isinstance(user, UserLine):
        raise _refused(2, "must be the user")
    user_id = as_user or user.id
    async with database.transaction(user_id) as session:
        account = AccountStore(session, user_id)
        if not await account.is_empty():
            raise AccountInUse(user_id)
        await account.load_user(user)
        loader = _Loader(account, user, Imported(user_id))
        for number, raw in numbered:
            progress(len(raw))
            await loader.take(number, _parse(number, raw))
        await loader.flush()
    return loader.imported
