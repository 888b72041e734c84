"""The conversation and message stores: the only code that writes SQL for their tables."""

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, delete, insert, or_, select, tuple_, update

from todochat.conversations.models import (
    Conversation,
    ConversationCreate,
    ConversationUpdate,
    ConversationView,
    Message,
    MessageCreate,
    MessageView,
    Role,
)
from todochat.db import Query, Store
from todochat.errors import Invalid, NotFound, TurnInProgress
from todochat.orm import table, utcnow
from todochat.users.models import User
from todochat.users.store import UserStore
from todochat.validation import MAX_NUMBER

MAX_PAGE = 200


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid.field("limit", f"must be between 1 and {MAX_PAGE}")


class Purged(NamedTuple):
    """What a purge deleted for good."""

    conversations: int = 0
    messages: int = 0


class ConversationPage(NamedTuple):
    """Conversations, most recent first, and the cursor of the page after them (None at the end)."""

    items: Sequence[ConversationView]
    next_cursor: str | None


def encode_cursor(conversation: ConversationView) -> str:
    """An opaque cursor pointing just after `conversation` in the most-recent-first order."""
    raw = f"{conversation.updated_at.isoformat()}|{conversation.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position an `encode_cursor` cursor points at."""
    try:
        stamp, number = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        updated_at, conversation_id = datetime.fromisoformat(stamp), int(number)
        if updated_at.tzinfo is None or not 1 <= conversation_id <= MAX_NUMBER:
            raise ValueError(cursor)
        # In UTC, as stored; a time at the edge of the calendar overflows here, not in a driver.
        return updated_at.astimezone(UTC), conversation_id
    except (ValueError, UnicodeError, binascii.Error, OverflowError):
        raise Invalid.field("cursor", "is not a cursor this server issued") from None


def _recent_first(*, archived: bool) -> Select[Any]:
    """Listed (or archived) conversations, most recent activity first: one partial index each."""
    archived_at = Conversation.archived_at
    shelved = archived_at.is_not(None) if archived else archived_at.is_(None)
    return (
        select(*(getattr(Conversation, field) for field in ConversationView._fields))
        .where(
            Conversation.user_id == bindparam("user_id"),
            Conversation.deleted_at.is_(None),
            shelved,
        )
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(bindparam("limit"))
    )


def _after_cursor(statement: Select[Any]) -> Select[Any]:
    return statement.where(
        tuple_(Conversation.updated_at, Conversation.id)
        < tuple_(
            bindparam("updated_at", type_=Conversation.updated_at.type),
            bindparam("id", type_=Conversation.id.type),
        )
    )


_RECENT = {archived: Query(_recent_first(archived=archived)) for archived in (False, True)}
_RECENT_AFTER = {
    archived: Query(_after_cursor(_recent_first(archived=archived))) for archived in (False, True)
}


_CONVERSATION = table(Conversation).c
_CLAIM_TURN = (
    update(table(Conversation))
    .where(
        _CONVERSATION.user_id == bindparam("owner"),
        _CONVERSATION.id == bindparam("number"),
        _CONVERSATION.deleted_at.is_(None),
        or_(
            _CONVERSATION.turn_until.is_(None),
            _CONVERSATION.turn_until < bindparam("now", type_=_CONVERSATION.turn_until.type),
        ),
    )
    .values(turn_until=bindparam("until", type_=_CONVERSATION.turn_until.type))
    .returning(_CONVERSATION.id)
)
_RELEASE_TURN = (
    update(table(Conversation))
    .where(
        _CONVERSATION.user_id == bindparam("owner"),
        _CONVERSATION.id == bindparam("number"),
        _CONVERSATION.turn_until == bindparam("until", type_=_CONVERSATION.turn_until.type),
    )
    .values(turn_until=None)
)


class ConversationStore(Store):
    """One user's conversations."""

    def _conversations(self, *, include_deleted: bool = False) -> Select[Conversation]:
        # Appends move updated_at without the ORM: refresh objects the session already holds.
        statement = (
            select(Conversation)
            .where(Conversation.user_id == self.user_id)
            .execution_options(populate_existing=True)
        )
        if not include_deleted:
            statement = statement.where(Conversation.deleted_at.is_(None))
        return statement

    async def create(self, data: ConversationCreate | None = None) -> Conversation:
        """Start a conversation under the user's next conversation number."""
        data = data or ConversationCreate()
        number = await UserStore(self.session, self.user_id).next_number(User.last_conversation_id)
        now = utcnow()
        conversation = Conversation(
            user_id=self.user_id,
            id=number,
            title=data.title,
            meta=data.metadata,
            created_at=now,
            updated_at=now,
        )
        self.session.add(conversation)
        await self.session.flush()
        return conversation

    async def get(self, conversation_id: int, *, include_deleted: bool = False) -> Conversation:
        """The conversation with this number; a soft-deleted one only if asked for."""
        conversation = await self.session.scalar(
            self._conversations(include_deleted=include_deleted).where(
                Conversation.id == conversation_id
            )
        )
        if conversation is None:
            raise NotFound("conversation", conversation_id)
        return conversation

    async def list(
        self, *, limit: int = 20, cursor: str | None = None, archived: bool = False
    ) -> ConversationPage:
        """Live conversations (or the archived ones), most recent activity first, one page."""
        _check_limit(limit)
        if cursor is None:
            found = await _RECENT[archived].rows(
                self.session, user_id=self.user_id, limit=limit + 1
            )
        else:
            updated_at, number = decode_cursor(cursor)
            found = await _RECENT_AFTER[archived].rows(
                self.session,
                user_id=self.user_id,
                limit=limit + 1,
                updated_at=updated_at,
                id=number,
            )
        rows = [ConversationView._make(row) for row in found]
        items = rows[:limit]
        return ConversationPage(items, encode_cursor(items[-1]) if len(rows) > limit else None)

    async def update(self, conversation_id: int, changes: ConversationUpdate) -> Conversation:
        """Rename the conversation or replace its metadata."""
        conversation = await self.get(conversation_id)
        values = changes.model_dump(exclude_unset=True)
        if "title" in values:
            conversation.title = values["title"]
        if "metadata" in values:
            conversation.meta = values["metadata"]
        if values:
            conversation.updated_at = utcnow()
        await self.session.flush()
        return conversation

    async def soft_delete(self, conversation_id: int) -> Conversation:
        """Hide the conversation and its messages; `restore` brings them back."""
        conversation = await self.get(conversation_id)
        conversation.deleted_at = conversation.updated_at = utcnow()
        await self.session.flush()
        return conversation

    async def restore(self, conversation_id: int) -> Conversation:
        """Bring back a soft-deleted conversation."""
        conversation = await self.get(conversation_id, include_deleted=True)
        if conversation.deleted_at is not None:
            conversation.deleted_at = None
            conversation.updated_at = utcnow()
            await self.session.flush()
        return conversation

    async def archive(self, conversation_id: int) -> Conversation:
        """Take the conversation out of the default list; it keeps working."""
        return await self._shelve(conversation_id, archived=True)

    async def unarchive(self, conversation_id: int) -> Conversation:
        """Put an archived conversation back in the default list."""
        return await self._shelve(conversation_id, archived=False)

    async def _shelve(self, conversation_id: int, *, archived: bool) -> Conversation:
        conversation = await self.get(conversation_id)
        if (conversation.archived_at is not None) != archived:
            conversation.updated_at = utcnow()
            conversation.archived_at = conversation.updated_at if archived else None
            await self.session.flush()
        return conversation

    async def claim_turn(self, conversation_id: int, until: datetime) -> None:
        """Hold the live conversation for one assistant turn until `until` (or its release).

        Raises `TurnInProgress` while another turn holds it.
        """
        claimed = await self.session.scalar(
            _CLAIM_TURN,
            {"owner": self.user_id, "number": conversation_id, "now": utcnow(), "until": until},
        )
        if claimed is None:
            await self.get(conversation_id)  # not found, or:
            raise TurnInProgress(conversation_id)

    async def release_turn(self, conversation_id: int, until: datetime) -> None:
        """End the turn `claim_turn` started with `until`; a claim taken since is left alone."""
        await self.session.execute(
            _RELEASE_TURN, {"owner": self.user_id, "number": conversation_id, "until": until}
        )

    async def purge(self, conversation_id: int, deleted_before: datetime, batch: int) -> Purged:
        """Delete for good up to `batch` messages of a conversation soft-deleted before then,
        and the conversation once none are left; nothing if it is not (or no longer) such.
        """
        expired = await self.session.scalar(
            select(Conversation.id)
            .where(
                Conversation.user_id == self.user_id,
                Conversation.id == conversation_id,
                Conversation.deleted_at < deleted_before,
            )
            .with_for_update()  # a restore waits for this batch, then stops the next
        )
        if expired is None:
            return Purged()
        oldest = (
            select(Message.seq)
            .where(Message.user_id == self.user_id, Message.conversation_id == conversation_id)
            .order_by(Message.seq)
            .limit(batch)
        )
        removed = await self.session.execute(
            delete(Message).where(
                Message.user_id == self.user_id,
                Message.conversation_id == conversation_id,
                Message.seq.in_(oldest.scalar_subquery()),
            )
        )
        messages: int = removed.rowcount  # type: ignore[attr-defined]
        if messages == batch:
            return Purged(messages=messages)
        await self.delete(conversation_id)
        return Purged(conversations=1, messages=messages)

    async def delete(self, conversation_id: int) -> None:
        """Delete the conversation for good; the database removes its messages."""
        result = await self.session.execute(
            delete(Conversation).where(
                Conversation.user_id == self.user_id, Conversation.id == conversation_id
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("conversation", conversation_id)


_MESSAGES = (
    select(*(getattr(Message, field) for field in MessageView._fields))
    .join(
        Conversation,
        and_(Conversation.user_id == Message.user_id, Conversation.id == Message.conversation_id),
    )
    .where(
        Message.user_id == bindparam("user_id"),
        Message.conversation_id == bindparam("conversation_id"),
        Conversation.deleted_at.is_(None),
    )
)
_MESSAGE = _MESSAGES.where(Message.deleted_at.is_(None))


def _newest_first(statement: Select[Any]) -> Select[Any]:
    return statement.order_by(Message.seq.desc()).limit(bindparam("limit"))


# History reads are the hottest path: compiled once, run on the driver itself. Keyed by
# whether soft-deleted messages are included.
_LATEST = {
    False: Query(_newest_first(_MESSAGE)),
    True: Query(_newest_first(_MESSAGES)),
}
_BEFORE = {
    deleted: Query(_newest_first(statement).where(Message.seq < bindparam("before")))
    for deleted, statement in ((False, _MESSAGE), (True, _MESSAGES))
}
_ONE = Query(_MESSAGE.where(Message.seq == bindparam("seq")))
_TAKE_SEQ = (
    update(table(Conversation))
    .where(
        _CONVERSATION.user_id == bindparam("owner"),
        _CONVERSATION.id == bindparam("number"),
        _CONVERSATION.deleted_at.is_(None),
    )
    .values(
        last_seq=_CONVERSATION.last_seq + bindparam("count"),
        updated_at=bindparam("now", type_=_CONVERSATION.updated_at.type),
    )
    .returning(_CONVERSATION.last_seq)
)


def _view(message: Message) -> MessageView:
    return MessageView(*(getattr(message, field) for field in MessageView._fields))


class MessageStore(Store):
    """The messages of one user's live conversations."""

    async def append(
        self, conversation_id: int, messages: Sequence[MessageCreate]
    ) -> list[MessageView]:
        """Add messages under the next `seq` numbers, moving the conversation's `updated_at`."""
        if not messages:
            raise Invalid.field("messages", "must hold at least one message")
        now = utcnow()
        last = await self.session.scalar(
            _TAKE_SEQ,
            {
                "owner": self.user_id,
                "number": conversation_id,
                "count": len(messages),
                "now": now,
            },
        )
        if last is None:
            raise NotFound("conversation", conversation_id)
        first = last - len(messages) + 1
        views = [
            MessageView(
                first + offset,
                message.role,
                message.content,
                message.tool_calls,
                message.tool_results,
                message.metadata,
                now,
            )
            for offset, message in enumerate(messages)
        ]
        await self.session.execute(
            insert(table(Message)),
            [
                {
                    "user_id": self.user_id,
                    "conversation_id": conversation_id,
                    "seq": view.seq,
                    "role": view.role,
                    "content": view.content,
                    "tool_calls": view.tool_calls,
                    "tool_results": view.tool_results,
                    "metadata": view.meta,
                    "created_at": view.created_at,
                }
                for view in views
            ],
        )
        return views

    async def latest(
        self, conversation_id: int, limit: int = 50, *, deleted: bool = False
    ) -> list[MessageView]:
        """The last `limit` messages, oldest first; soft-deleted ones too if `deleted`."""
        return await self._page(_LATEST[deleted], conversation_id, limit)

    async def before(
        self, conversation_id: int, seq: int, limit: int = 50, *, deleted: bool = False
    ) -> list[MessageView]:
        """The `limit` messages just before `seq`, oldest first; soft-deleted ones if `deleted`."""
        return await self._page(_BEFORE[deleted], conversation_id, limit, before=seq)

    async def get(self, conversation_id: int, seq: int) -> MessageView:
        """One message."""
        rows = await _ONE.rows(
            self.session, user_id=self.user_id, conversation_id=conversation_id, seq=seq
        )
        if not rows:
            raise NotFound("message", f"{conversation_id}/{seq}")
        return MessageView._make(rows[0])

    async def edit(self, conversation_id: int, seq: int, content: str) -> MessageView:
        """Replace the text of a person's message, keeping the text it had in its metadata."""
        message = await self._persons(conversation_id, seq)
        now = utcnow()
        message.meta = {
            **(message.meta or {}),
            "edited_at": now.isoformat(),
            "previous_content": message.content,
        }
        message.content = content
        await self._touch(conversation_id, now)
        return _view(message)

    async def delete(self, conversation_id: int, seq: int) -> MessageView:
        """Soft-delete a person's message: it leaves listings, search and the model's history."""
        message = await self._persons(conversation_id, seq)
        message.deleted_at = utcnow()
        await self._touch(conversation_id, message.deleted_at)
        return _view(message)

    async def purge(self, keys: Sequence[tuple[int, int]], deleted_before: datetime) -> int:
        """Delete for good the messages at `keys` (conversation, seq) soft-deleted before then."""
        removed = await self.session.execute(
            delete(Message).where(
                Message.user_id == self.user_id,
                tuple_(Message.conversation_id, Message.seq).in_(keys),
                Message.deleted_at < deleted_before,
            )
        )
        count: int = removed.rowcount  # type: ignore[attr-defined]
        return count

    async def _persons(self, conversation_id: int, seq: int) -> Message:
        """The live message, locked for a change, if the person wrote it."""
        message = await self.session.scalar(
            select(Message)
            .join(
                Conversation,
                and_(
                    Conversation.user_id == Message.user_id,
                    Conversation.id == Message.conversation_id,
                ),
            )
            .where(
                Message.user_id == self.user_id,
                Message.conversation_id == conversation_id,
                Message.seq == seq,
                Message.deleted_at.is_(None),
                Conversation.deleted_at.is_(None),
            )
            .with_for_update(of=Message)
            .execution_options(populate_existing=True)
        )
        if message is None:
            raise NotFound("message", f"{conversation_id}/{seq}")
        if message.role is not Role.USER:
            raise Invalid.field("seq", f"is a message of role {message.role}: only yours change")
        return message

    async def _touch(self, conversation_id: int, now: datetime) -> None:
        """Flush the change and move the conversation's `updated_at`."""
        await self.session.flush()
        await self.session.execute(
            update(table(Conversation))
            .where(_CONVERSATION.user_id == self.user_id, _CONVERSATION.id == conversation_id)
            .values(updated_at=now)
        )

    async def _page(
        self, query: Query, conversation_id: int, limit: int, **parameters: int
    ) -> list[MessageView]:
        _check_limit(limit)
        rows = await query.rows(
            self.session,
            user_id=self.user_id,
            conversation_id=conversation_id,
            limit=limit,
            **parameters,
        )
        if not rows:
            await ConversationStore(self.session, self.user_id).get(conversation_id)
        return [MessageView._make(row) for row in reversed(rows)]
