"""The conversation and message stores: the only code that writes SQL for their tables."""

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Select, and_, bindparam, delete, insert, or_, select, tuple_, update

from todochat.conversations.models import (
    Conversation,
    ConversationCreate,
    ConversationUpdate,
    ConversationView,
    Message,
    MessageCreate,
    MessageView,
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


_RECENT_FIRST = (
    select(*(getattr(Conversation, field) for field in ConversationView._fields))
    .where(Conversation.user_id == bindparam("user_id"), Conversation.deleted_at.is_(None))
    .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
    .limit(bindparam("limit"))
)
_RECENT = Query(_RECENT_FIRST)
_RECENT_AFTER = Query(
    _RECENT_FIRST.where(
        tuple_(Conversation.updated_at, Conversation.id)
        < tuple_(
            bindparam("updated_at", type_=Conversation.updated_at.type),
            bindparam("id", type_=Conversation.id.type),
        )
    )
)


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

    async def list(self, *, limit: int = 20, cursor: str | None = None) -> ConversationPage:
        """Live conversations, most recent activity first, one page after `cursor`."""
        _check_limit(limit)
        if cursor is None:
            found = await _RECENT.rows(self.session, user_id=self.user_id, limit=limit + 1)
        else:
            updated_at, number = decode_cursor(cursor)
            found = await _RECENT_AFTER.rows(
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

    async def delete(self, conversation_id: int) -> None:
        """Delete the conversation for good; the database removes its messages."""
        result = await self.session.execute(
            delete(Conversation).where(
                Conversation.user_id == self.user_id, Conversation.id == conversation_id
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("conversation", conversation_id)


_MESSAGE = (
    select(*(getattr(Message, field) for field in MessageView._fields))
    .join(
        Conversation,
        and_(Conversation.user_id == Message.user_id, Conversation.id == Message.conversation_id),
    )
    .where(
        Message.user_id == bindparam("user_id"),
        Message.conversation_id == bindparam("conversation_id"),
        Message.deleted_at.is_(None),
        Conversation.deleted_at.is_(None),
    )
)
_NEWEST_FIRST = _MESSAGE.order_by(Message.seq.desc()).limit(bindparam("limit"))
# History reads are the hottest path: compiled once, run on the driver itself.
_LATEST = Query(_NEWEST_FIRST)
_BEFORE = Query(_NEWEST_FIRST.where(Message.seq < bindparam("before")))
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

    async def latest(self, conversation_id: int, limit: int = 50) -> list[MessageView]:
        """The last `limit` messages, oldest first."""
        return await self._page(_LATEST, conversation_id, limit)

    async def before(self, conversation_id: int, seq: int, limit: int = 50) -> list[MessageView]:
        """The `limit` messages just before `seq`, oldest first."""
        return await self._page(_BEFORE, conversation_id, limit, before=seq)

    async def get(self, conversation_id: int, seq: int) -> MessageView:
        """One message."""
        rows = await _ONE.rows(
            self.session, user_id=self.user_id, conversation_id=conversation_id, seq=seq
        )
        if not rows:
            raise NotFound("message", f"{conversation_id}/{seq}")
        return MessageView._make(rows[0])

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
