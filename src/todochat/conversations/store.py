"""The conversation and message stores: the only code that writes SQL for their tables."""

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, NoReturn

from sqlalchemy import (
    ColumnElement,
    Select,
    Update,
    and_,
    bindparam,
    case,
    delete,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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
from todochat.db import CompiledRead, CompiledWrite, Store, view
from todochat.errors import Conflict, Invalid, NotFound, TurnInProgress
from todochat.orm import table, utcnow
from todochat.users.models import User
from todochat.users.store import NumberedInsert
from todochat.validation import MAX_NUMBER

MAX_PAGE = 200
MAX_CURSOR_CHARS = 200  # what `encode_cursor` makes is far shorter


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


_LIVE = select(*(getattr(Conversation, field) for field in ConversationView._fields)).where(
    Conversation.user_id == bindparam("user_id"), Conversation.deleted_at.is_(None)
)


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


RECENT = {archived: CompiledRead(_recent_first(archived=archived)) for archived in (False, True)}
_RECENT_AFTER = {
    archived: CompiledRead(_after_cursor(_recent_first(archived=archived)))
    for archived in (False, True)
}


def _started(*, newest_first: bool, after: bool) -> CompiledRead:
    # Creation order is the primary key's: a keyset on the number, either way.
    statement = _LIVE.order_by(Conversation.id.desc() if newest_first else Conversation.id).limit(
        bindparam("limit")
    )
    if after:
        edge = bindparam("after", type_=Conversation.id.type)
        statement = statement.where(
            Conversation.id < edge if newest_first else Conversation.id > edge
        )
    return CompiledRead(statement)


_STARTED = {
    (newest_first, after): _started(newest_first=newest_first, after=after)
    for newest_first in (False, True)
    for after in (False, True)
}


_CONVERSATION = table(Conversation).c
_INSERT_CONVERSATION = NumberedInsert(
    User.last_conversation_id,
    table(Conversation),
    ("key", "title", "metadata", "created_at", "updated_at", "last_seq"),
)
# The live conversation `number` of user `owner`.
_THIS_LIVE = and_(
    _CONVERSATION.user_id == bindparam("owner"),
    _CONVERSATION.id == bindparam("number"),
    _CONVERSATION.deleted_at.is_(None),
)
# No turn holds the conversation: none was claimed, or its claim has expired.
_TURN_FREE = or_(
    _CONVERSATION.turn_until.is_(None),
    _CONVERSATION.turn_until < bindparam("now", type_=_CONVERSATION.turn_until.type),
)
_UNTIL = bindparam("until", type_=_CONVERSATION.turn_until.type)
_CLAIM_TURN = CompiledWrite(
    update(table(Conversation))
    .where(_THIS_LIVE, _TURN_FREE)
    .values(turn_until=_UNTIL)
    .returning(_CONVERSATION.id)
)


async def _turn_refused(session: AsyncSession, user_id: str, conversation_id: int) -> NoReturn:
    """Raise why a turn could not claim the conversation."""
    await ConversationStore(session, user_id).get(conversation_id)  # not found, or:
    raise TurnInProgress(conversation_id)


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

    async def create(self, data: ConversationCreate | None = None) -> ConversationView:
        """Start a conversation under the user's next conversation number.

        Raises `Conflict` when another of the user's conversations has its key.
        """
        data = data or ConversationCreate()
        now = utcnow()
        async with self._naming(data.key):
            number = await _INSERT_CONVERSATION.insert(
                self.session,
                self.user_id,
                key=data.key,
                title=data.title,
                metadata=data.metadata,
                created_at=now,
                updated_at=now,
                last_seq=0,
            )
        return ConversationView(
            id=number,
            key=data.key,
            title=data.title,
            meta=data.metadata,
            created_at=now,
            updated_at=now,
            deleted_at=None,
            archived_at=None,
        )

    @asynccontextmanager
    async def _naming(self, key: str | None) -> AsyncIterator[None]:
        # A key is unique per user. The block runs in a savepoint, so that a key taken
        # meanwhile undoes all of it (a conversation number it drew included) and the
        # transaction goes on: a caller may then find the conversation that took the key.
        if key is None:
            yield
            return
        try:
            async with self.session.begin_nested():
                yield
        except IntegrityError:
            raise Conflict("conversation", "key", key) from None

    async def get(self, conversation_id: int, *, include_deleted: bool = False) -> ConversationView:
        """The conversation with this number; a soft-deleted one only if asked for."""
        return view(
            ConversationView, await self._row(conversation_id, include_deleted=include_deleted)
        )

    async def _row(self, conversation_id: int, *, include_deleted: bool = False) -> Conversation:
        conversation = await self.session.scalar(
            self._conversations(include_deleted=include_deleted).where(
                Conversation.id == conversation_id
            )
        )
        if conversation is None:
            raise NotFound("conversation", conversation_id)
        return conversation

    async def by_key(self, key: str, *, include_deleted: bool = False) -> ConversationView:
        """The conversation with this key; a soft-deleted one only if asked for."""
        conversation = await self.session.scalar(
            self._conversations(include_deleted=include_deleted).where(Conversation.key == key)
        )
        if conversation is None:
            raise NotFound("conversation", repr(key))
        return view(ConversationView, conversation)

    async def in_order(
        self, *, limit: int, after: int | None = None, newest_first: bool = False
    ) -> list[ConversationView]:
        """Live conversations in the order they were started, from just after number `after`."""
        _check_limit(limit)
        query = _STARTED[newest_first, after is not None]
        start = {} if after is None else {"after": after}
        rows = await query.rows(self.session, user_id=self.user_id, limit=limit, **start)
        return [ConversationView._make(row) for row in rows]

    async def list(
        self, *, limit: int = 20, cursor: str | None = None, archived: bool = False
    ) -> ConversationPage:
        """Live conversations (or the archived ones), most recent activity first, one page."""
        _check_limit(limit)
        if cursor is None:
            found = await RECENT[archived].rows(self.session, user_id=self.user_id, limit=limit + 1)
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

    async def update(self, conversation_id: int, changes: ConversationUpdate) -> ConversationView:
        """Rename the conversation, change its key or replace its metadata.

        Raises `Conflict` when another of the user's conversations has the new key.
        """
        conversation = await self._row(conversation_id)
        values = changes.model_dump(exclude_unset=True)
        async with self._naming(values.get("key")):
            if "key" in values:
                conversation.key = values["key"]
            if "title" in values:
                conversation.title = values["title"]
            if "metadata" in values:
                conversation.meta = values["metadata"]
            if values:
                conversation.updated_at = utcnow()
            await self.session.flush()
        return view(ConversationView, conversation)

    async def soft_delete(self, conversation_id: int) -> ConversationView:
        """Hide the conversation and its messages; `restore` brings them back."""
        conversation = await self._row(conversation_id)
        conversation.deleted_at = conversation.updated_at = utcnow()
        await self.session.flush()
        return view(ConversationView, conversation)

    async def restore(self, conversation_id: int) -> ConversationView:
        """Bring back a soft-deleted conversation."""
        conversation = await self._row(conversation_id, include_deleted=True)
        if conversation.deleted_at is not None:
            conversation.deleted_at = None
            conversation.updated_at = utcnow()
            await self.session.flush()
        return view(ConversationView, conversation)

    async def archive(self, conversation_id: int) -> ConversationView:
        """Take the conversation out of the default list; it keeps working."""
        return await self._shelve(conversation_id, archived=True)

    async def unarchive(self, conversation_id: int) -> ConversationView:
        """Put an archived conversation back in the default list."""
        return await self._shelve(conversation_id, archived=False)

    async def _shelve(self, conversation_id: int, *, archived: bool) -> ConversationView:
        conversation = await self._row(conversation_id)
        if (conversation.archived_at is not None) != archived:
            conversation.updated_at = utcnow()
            conversation.archived_at = conversation.updated_at if archived else None
            await self.session.flush()
        return view(ConversationView, conversation)

    async def claim_turn(self, conversation_id: int, until: datetime) -> None:
        """Hold the live conversation for one assistant turn until `until` (or its release).

        Raises `TurnInProgress` while another turn holds it.
        """
        claimed = await _CLAIM_TURN.returning(
            self.session, owner=self.user_id, number=conversation_id, now=utcnow(), until=until
        )
        if not claimed:
            await _turn_refused(self.session, self.user_id, conversation_id)

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
# whether soft-deleted messages are included (public: the benchmark's floor runs them too).
LATEST = {
    False: CompiledRead(_newest_first(_MESSAGE)),
    True: CompiledRead(_newest_first(_MESSAGES)),
}
BEFORE = {
    deleted: CompiledRead(_newest_first(statement).where(Message.seq < bindparam("before")))
    for deleted, statement in ((False, _MESSAGE), (True, _MESSAGES))
}
_AFTER = CompiledRead(
    _MESSAGE.where(Message.seq > bindparam("after")).order_by(Message.seq).limit(bindparam("limit"))
)
_ONE = CompiledRead(_MESSAGE.where(Message.seq == bindparam("seq")))
_KEYED = CompiledRead(_MESSAGE.where(Message.key == bindparam("key")))
# Takes the next `count` message numbers and moves the conversation's updated_at; the row
# lock this takes makes the writers of one conversation go one at a time.
_TAKE = (
    update(table(Conversation))
    .where(_THIS_LIVE)
    .values(
        last_seq=_CONVERSATION.last_seq + bindparam("count"),
        updated_at=bindparam("now", type_=_CONVERSATION.updated_at.type),
    )
    .returning(_CONVERSATION.last_seq)
)
_TAKE_SEQ = CompiledWrite(_TAKE)
# The person's message claims the conversation for the assistant's turn, the answer ends it:
# each in the statement that numbers the message.
_TAKE_CLAIMING = CompiledWrite(_TAKE.where(_TURN_FREE).values(turn_until=_UNTIL))
_TAKE_RELEASING = CompiledWrite(
    # A claim taken since (after this turn's expired) is left alone.
    _TAKE.values(
        turn_until=case((_CONVERSATION.turn_until == _UNTIL, None), else_=_CONVERSATION.turn_until)
    )
)
_MESSAGE_COLUMNS = table(Message).c
_INSERT_MESSAGES = CompiledWrite(
    insert(table(Message)),
    columns=(
        "user_id",
        "conversation_id",
        "seq",
        "key",
        "role",
        "content",
        "tool_calls",
        "tool_results",
        "metadata",
        "created_at",
    ),
)
_GIVEN = ("key", "role", "content", "tool_calls", "tool_results", "metadata")


def _appending_one(take: CompiledWrite) -> CompiledWrite:
    """`take` (of one number) and the INSERT of the message under it, in one statement.

    PostgreSQL runs an UPDATE in a WITH clause: the statement costs one round trip, not two.
    No conversation taken, nothing inserted, no row returned.
    """
    if not isinstance(take.statement, Update):
        raise TypeError("a message's number is taken by an UPDATE")
    columns = (_CONVERSATION.user_id, _CONVERSATION.id, _CONVERSATION.updated_at)
    taken = take.statement.returning(*columns).cte("taken")
    given = [bindparam(name, type_=_MESSAGE_COLUMNS[name].type) for name in _GIVEN]
    return CompiledWrite(
        insert(table(Message))
        .from_select(
            ["user_id", "conversation_id", "seq", "created_at", *_GIVEN],
            select(taken.c.user_id, taken.c.id, taken.c.last_seq, taken.c.updated_at, *given),
        )
        .returning(_MESSAGE_COLUMNS.seq)
    )


_APPEND_ONE = {take: _appending_one(take) for take in (_TAKE_SEQ, _TAKE_CLAIMING, _TAKE_RELEASING)}


def _taking(
    user_id: str,
    conversation_id: int,
    count: int,
    now: datetime,
    *,
    claim: datetime | None = None,
    release: datetime | None = None,
) -> tuple[CompiledWrite, dict[str, Any]]:
    """The statement taking `count` more numbers (0: just holding the conversation), claiming
    or releasing its turn, and its parameters."""
    where = {"owner": user_id, "number": conversation_id, "count": count, "now": now}
    if claim is not None and release is not None:
        raise ValueError("a turn is claimed or released, not both")
    if claim is not None:
        return _TAKE_CLAIMING, {**where, "until": claim}
    if release is not None:
        return _TAKE_RELEASING, {**where, "until": release}
    return _TAKE_SEQ, where


def _numbered(messages: Sequence[MessageCreate], last: int, now: datetime) -> list[MessageView]:
    """The messages as stored under the numbers up to `last`."""
    first = last - len(messages) + 1
    return [
        MessageView(
            first + offset,
            message.key,
            message.role,
            message.content,
            message.tool_calls,
            message.tool_results,
            message.metadata,
            now,
        )
        for offset, message in enumerate(messages)
    ]


class MessageStore(Store):
    """The messages of one user's live conversations."""

    async def append(
        self,
        conversation_id: int,
        messages: Sequence[MessageCreate],
        *,
        claim: datetime | None = None,
        release: datetime | None = None,
    ) -> list[MessageView]:
        """Add messages under the next `seq` numbers, moving the conversation's `updated_at`.

        They may open or end an assistant's turn in the same step: with `claim`, the live
        conversation is held for the turn until then (as `ConversationStore.claim_turn` holds
        it); with `release`, the turn claimed until then ends.

        Raises `Conflict` when a message's key is another message's in the conversation, and
        with `claim`, `TurnInProgress` while another turn holds the conversation.
        """
        if not messages:
            raise Invalid.field("messages", "must hold at least one message")
        now = utcnow()
        take, where = _taking(
            self.user_id, conversation_id, len(messages), now, claim=claim, release=release
        )
        try:
            if len(messages) == 1 and self.session.get_bind().dialect.name == "postgresql":
                [message] = messages
                given = {name: getattr(message, name) for name in _GIVEN}
                taken = await _APPEND_ONE[take].returning(self.session, **where, **given)
                views = _numbered(messages, await self._last(taken, conversation_id, claim), now)
            else:
                taken = await take.returning(self.session, **where)
                views = _numbered(messages, await self._last(taken, conversation_id, claim), now)
                await _INSERT_MESSAGES.insert(
                    self.session, [self._row(conversation_id, view) for view in views]
                )
        except IntegrityError:  # the only unique value a caller chooses is a key
            keys = [message.key for message in messages if message.key is not None]
            raise Conflict("message", "key", keys[0] if len(keys) == 1 else keys) from None
        return views

    def _row(self, conversation_id: int, view: MessageView) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "conversation_id": conversation_id,
            "seq": view.seq,
            "key": view.key,
            "role": view.role,
            "content": view.content,
            "tool_calls": view.tool_calls,
            "tool_results": view.tool_results,
            "metadata": view.meta,
            "created_at": view.created_at,
        }

    async def _last(
        self, taken: Sequence[Sequence[Any]], conversation_id: int, claim: datetime | None
    ) -> int:
        """The last number taken; why none was, if none was."""
        if not taken:
            if claim is not None:
                await _turn_refused(self.session, self.user_id, conversation_id)
            raise NotFound("conversation", conversation_id)
        return int(taken[0][0])

    async def hold(self, conversation_id: int) -> None:
        """Hold the live conversation until the transaction ends, for a change to its messages.

        Another transaction's change to them waits: read, then change, without a race.
        """
        take, where = _taking(self.user_id, conversation_id, 0, utcnow())
        await self._last(await take.returning(self.session, **where), conversation_id, None)

    async def replace(self, conversation_id: int, seq: int, message: MessageCreate) -> MessageView:
        """Rewrite a message in place: same `seq`, key and time, new role, text and records."""
        await self.hold(conversation_id)
        kept = (
            await self.session.execute(
                update(table(Message))
                .where(self._where(conversation_id, seq))
                .values(
                    role=message.role,
                    content=message.content,
                    tool_calls=message.tool_calls,
                    tool_results=message.tool_results,
                    metadata=message.metadata,
                )
                .returning(_MESSAGE_COLUMNS.key, _MESSAGE_COLUMNS.created_at)
            )
        ).one_or_none()
        if kept is None:
            raise NotFound("message", f"{conversation_id}/{seq}")
        key, created_at = kept
        return MessageView(
            seq,
            key,
            message.role,
            message.content,
            message.tool_calls,
            message.tool_results,
            message.metadata,
            created_at,
        )

    async def remove(self, conversation_id: int, seq: int) -> None:
        """Delete a message for good, whoever wrote it; its `seq` is not used again."""
        await self.hold(conversation_id)
        result = await self.session.execute(
            delete(table(Message)).where(self._where(conversation_id, seq))
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("message", f"{conversation_id}/{seq}")

    async def clear(self, conversation_id: int) -> None:
        """Delete every message of the conversation for good."""
        await self.hold(conversation_id)
        await self.session.execute(
            delete(table(Message)).where(
                _MESSAGE_COLUMNS.user_id == self.user_id,
                _MESSAGE_COLUMNS.conversation_id == conversation_id,
            )
        )

    def _where(self, conversation_id: int, seq: int) -> ColumnElement[bool]:
        return and_(
            _MESSAGE_COLUMNS.user_id == self.user_id,
            _MESSAGE_COLUMNS.conversation_id == conversation_id,
            _MESSAGE_COLUMNS.seq == seq,
            _MESSAGE_COLUMNS.deleted_at.is_(None),
        )

    async def latest(
        self, conversation_id: int, limit: int = 50, *, deleted: bool = False
    ) -> list[MessageView]:
        """The last `limit` messages, oldest first; soft-deleted ones too if `deleted`."""
        return await self._page(LATEST[deleted], conversation_id, limit, newest_first=True)

    async def before(
        self, conversation_id: int, seq: int, limit: int = 50, *, deleted: bool = False
    ) -> list[MessageView]:
        """The `limit` messages just before `seq`, oldest first; soft-deleted ones if `deleted`."""
        return await self._page(
            BEFORE[deleted], conversation_id, limit, newest_first=True, before=seq
        )

    async def after(self, conversation_id: int, seq: int, limit: int = 50) -> list[MessageView]:
        """The `limit` messages just after `seq` (0: the first ones), oldest first."""
        return await self._page(_AFTER, conversation_id, limit, after=seq)

    async def get(self, conversation_id: int, seq: int) -> MessageView:
        """One message."""
        rows = await _ONE.rows(
            self.session, user_id=self.user_id, conversation_id=conversation_id, seq=seq
        )
        if not rows:
            raise NotFound("message", f"{conversation_id}/{seq}")
        return MessageView._make(rows[0])

    async def by_key(self, conversation_id: int, key: str) -> MessageView:
        """The message with this key."""
        rows = await _KEYED.rows(
            self.session, user_id=self.user_id, conversation_id=conversation_id, key=key
        )
        if not rows:
            raise NotFound("message", repr(key))
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
        return view(MessageView, message)

    async def delete(self, conversation_id: int, seq: int) -> MessageView:
        """Soft-delete a person's message: it leaves listings, search and the model's history."""
        message = await self._persons(conversation_id, seq)
        message.deleted_at = utcnow()
        await self._touch(conversation_id, message.deleted_at)
        return view(MessageView, message)

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
        self,
        query: CompiledRead,
        conversation_id: int,
        limit: int,
        *,
        newest_first: bool = False,
        **parameters: int,
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
        views = [MessageView._make(row) for row in rows]
        return views[::-1] if newest_first else views
