"""ChatKit's `Store` on todochat's conversations and messages, for the user a request is from.

A thread is a conversation: its id is the conversation's key (ChatKit's new threads get one),
or `conversation-N` for one without a key. A thread item is a message: its id is the
message's key (the item ids this store hands out), or `message-N` after its `seq`. Items
ChatKit stores are kept exactly in the message's metadata, beside readable columns; any
other message reads as the item closest to it.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    ClientToolCallItem,
    CustomTask,
    GeneratedImageItem,
    HiddenContextItem,
    InferenceOptions,
    Page,
    SDKHiddenContextItem,
    TaskItem,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.chat.tools import ToolCall
from todochat.conversations.models import (
    NUMBERED_CONVERSATION,
    NUMBERED_MESSAGE,
    ConversationCreate,
    ConversationUpdate,
    ConversationView,
    MessageCreate,
    MessageView,
    Role,
)
from todochat.conversations.store import MAX_PAGE, ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import Invalid, NotFound
from todochat.orm import utcnow
from todochat.users.auth import Identity
from todochat.validation import MAX_NUMBER, parse

# The metadata entry holding the exact item a message stands for.
ITEM = "chatkit"
ITEMS: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)


@dataclass(frozen=True)
class Requester:
    """Who a ChatKit request is from: the user its bearer token proved."""

    identity: Identity

    @property
    def user_id(self) -> str:
        """The user's id."""
        return self.identity.user_id


@dataclass(frozen=True)
class _Stores:
    conversations: ConversationStore
    messages: MessageStore


class TodochatStore(Store[Requester]):
    """Threads and items of the requesting user only; anyone else's are not found."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def generate_thread_id(self, context: Requester) -> str:
        """A new thread id: ChatKit's kind, with enough randomness to never repeat."""
        return _unique("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: Requester
    ) -> str:
        """A new item id: ChatKit's kind, with enough randomness to never repeat."""
        return _unique(item_type)

    async def load_thread(self, thread_id: str, context: Requester) -> ThreadMetadata:
        """The thread: a live conversation of the user."""
        async with self._reading(context) as stores:
            return _thread(await _conversation(stores, thread_id))

    async def save_thread(self, thread: ThreadMetadata, context: Requester) -> None:
        """Store the thread's title and metadata, starting its conversation if it is new."""
        fields = {
            "title": (thread.title or "").strip() or None,
            "metadata": thread.metadata or None,
        }
        async with self._writing(context) as stores:
            try:
                found = await _conversation(stores, thread.id)
            except NotFoundError:
                start = parse(ConversationCreate, {"key": thread.id, **fields})
                await stores.conversations.create(start)
            else:
                await stores.conversations.update(found.id, parse(ConversationUpdate, fields))

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Requester
    ) -> Page[ThreadMetadata]:
        """Live threads in the order they were started, a page after the thread `after`."""
        limit = _page_size(limit)
        async with self._reading(context) as stores:
            edge = (
                None
                if after is None
                else (await _conversation(stores, after, include_deleted=True)).id
            )
            found = await stores.conversations.in_order(
                limit=limit + 1, after=edge, newest_first=order == "desc"
            )
        threads = [_thread(conversation) for conversation in found[:limit]]
        more = len(found) > limit
        return Page(data=threads, has_more=more, after=_after(threads, more=more))

    async def delete_thread(self, thread_id: str, context: Requester) -> None:
        """Soft-delete the thread's conversation: REST can restore it."""
        async with self._writing(context) as stores:
            await stores.conversations.soft_delete((await _conversation(stores, thread_id)).id)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Requester
    ) -> Page[ThreadItem]:
        """A page of the thread's items, oldest or newest first, after the item `after`."""
        limit = _page_size(limit)
        async with self._reading(context) as stores:
            number = (await _conversation(stores, thread_id)).id
            edge = None if after is None else (await _message(stores, number, after)).seq
            if order == "desc":
                if edge is None:
                    found = await stores.messages.latest(number, limit + 1)
                else:
                    found = await stores.messages.before(number, edge, limit + 1)
                found.reverse()
            else:
                found = await stores.messages.after(number, edge or 0, limit + 1)
        items = [_item(message, thread_id) for message in found[:limit]]
        more = len(found) > limit
        return Page(data=items, has_more=more, after=_after(items, more=more))

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Requester) -> None:
        """Store a new item; one the conversation already holds (a turn stored it) stays."""
        async with self._writing(context) as stores:
            number = (await _conversation(stores, thread_id)).id
            try:
                await _message(stores, number, item.id)
            except NotFoundError:
                await stores.messages.append(number, [_said(item)])

    async def save_item(self, thread_id: str, item: ThreadItem, context: Requester) -> None:
        """Store the item in place of the one with its id, or as a new one."""
        async with self._writing(context) as stores:
            number = (await _conversation(stores, thread_id)).id
            said = _said(item)
            try:
                stored = await _message(stores, number, item.id)
            except NotFoundError:
                await stores.messages.append(number, [said])
                return
            if said.role is Role.SYSTEM:  # not words or a tool call: the message stays what it is
                kept = {"role": stored.role, "tool_calls": stored.tool_calls}
                said = said.model_copy(update={**kept, "tool_results": stored.tool_results})
            await stores.messages.replace(number, stored.seq, said)

    async def load_item(self, thread_id: str, item_id: str, context: Requester) -> ThreadItem:
        """One item of the thread."""
        async with self._reading(context) as stores:
            number = (await _conversation(stores, thread_id)).id
            return _item(await _message(stores, number, item_id), thread_id)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Requester) -> None:
        """Delete the item's message for good."""
        async with self._writing(context) as stores:
            number = (await _conversation(stores, thread_id)).id
            await stores.messages.remove(number, (await _message(stores, number, item_id)).seq)

    async def locate(self, thread_id: str, item_id: str, context: Requester) -> tuple[int, int]:
        """The conversation number and `seq` of an item."""
        async with self._reading(context) as stores:
            number = (await _conversation(stores, thread_id)).id
            return number, (await _message(stores, number, item_id)).seq

    async def save_attachment(self, attachment: Attachment, context: Requester) -> None:
        """Refused: this backend keeps no files."""
        raise Invalid.field("attachments", "are not supported")

    async def load_attachment(self, attachment_id: str, context: Requester) -> Attachment:
        """None is kept: not found."""
        raise NotFoundError(f"Attachment {attachment_id} not found")

    async def delete_attachment(self, attachment_id: str, context: Requester) -> None:
        """None is kept: not found."""
        raise NotFoundError(f"Attachment {attachment_id} not found")

    @asynccontextmanager
    async def _reading(self, context: Requester) -> AsyncIterator[_Stores]:
        async with self._database.read(context.user_id) as session:
            yield _stores(session, context.user_id)

    @asynccontextmanager
    async def _writing(self, context: Requester) -> AsyncIterator[_Stores]:
        async with self._database.transaction(context.user_id) as session:
            yield _stores(session, context.user_id)


def _stores(session: AsyncSession, user_id: str) -> _Stores:
    return _Stores(ConversationStore(session, user_id), MessageStore(session, user_id))


def _unique(kind: StoreItemType) -> str:
    # ChatKit's own ids carry 32 random bits: too few for names that are unique for good.
    return default_generate_id(kind) + uuid.uuid4().hex[:24]


def _page_size(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE - 1))  # one more is read, to tell if there are more


def _after(page: Sequence[ThreadMetadata | ThreadItem], *, more: bool) -> str | None:
    # ChatKit's cursor is the id of the last thread or item given.
    return page[-1].id if more else None


def thread_id(conversation: ConversationView) -> str:
    """The ChatKit thread id of a conversation."""
    return conversation.key or f"conversation-{conversation.id}"


def item_id(message: MessageView) -> str:
    """The ChatKit item id of a message."""
    return message.key or f"message-{message.seq}"


def tool_item(call: ToolCall, thread_id: str) -> TaskItem:
    """The item a chat turn's tool call reads as, once its `tool` message is stored."""
    return TaskItem(
        id=f"message-{call.seq}",
        thread_id=thread_id,
        created_at=utcnow(),
        task=CustomTask(
            title=tool_summary(call), content=call.output(), status_indicator="complete"
        ),
    )


def _thread(conversation: ConversationView) -> ThreadMetadata:
    return ThreadMetadata(
        id=thread_id(conversation),
        title=conversation.title,
        created_at=conversation.created_at,
        metadata=conversation.meta or {},
    )


async def _conversation(
    stores: _Stores, thread_id: str, *, include_deleted: bool = False
) -> ConversationView:
    conversations = stores.conversations
    try:
        if number := _numbered(NUMBERED_CONVERSATION, thread_id):
            return await conversations.get(number, include_deleted=include_deleted)
        return await conversations.by_key(thread_id, include_deleted=include_deleted)
    except NotFound:
        raise NotFoundError(f"Thread {thread_id} not found") from None


async def _message(stores: _Stores, number: int, item_id: str) -> MessageView:
    try:
        if seq := _numbered(NUMBERED_MESSAGE, item_id):
            return await stores.messages.get(number, seq)
        return await stores.messages.by_key(number, item_id)
    except NotFound:
        raise NotFoundError(f"Item {item_id} not found") from None


def _numbered(pattern: re.Pattern[str], name: str) -> int | None:
    match = pattern.fullmatch(name)
    if match is None:
        return None
    number = int(match[1])
    return number if 1 <= number <= MAX_NUMBER else -1  # -1: a number no row has


def _item(message: MessageView, thread: str) -> ThreadItem:
    """The item a message stands for: the one ChatKit stored with it, else the closest."""
    stored = (message.meta or {}).get(ITEM)
    named = {"id": item_id(message), "thread_id": thread}
    if stored is not None:
        try:
            return ITEMS.validate_python({**stored, **named})
        except ValidationError:
            pass  # kept by another version of ChatKit: read it as a plain message
    common: dict[str, Any] = {**named, "created_at": message.created_at}
    match message.role:
        case Role.USER:
            text = UserMessageTextContent(text=message.content)
            return UserMessageItem(**common, content=[text], inference_options=InferenceOptions())
        case Role.ASSISTANT:
            return AssistantMessageItem(
                **common, content=[AssistantMessageContent(text=message.content)]
            )
        case Role.TOOL:
            return TaskItem(**common, task=_task(message))
    return HiddenContextItem(**common, content=message.content)


def _task(message: MessageView) -> CustomTask:
    call = ToolCall.recorded(message)
    return CustomTask(
        title=tool_summary(call) if call is not None else None,
        content=message.content,
        status_indicator="complete",
    )


def tool_summary(call: ToolCall) -> str:
    """A tool call in a few words: what it did to which task, or why it failed."""
    if call.error is not None:
        return f"{call.tool}: {call.error}"
    result = call.result
    if isinstance(result, list):
        return f"{call.tool}: {len(result)} task{'' if len(result) == 1 else 's'}"
    if isinstance(result, dict) and {"status", "task_id", "title"} <= result.keys():
        return f"{call.tool}: {result['status']} task {result['task_id']}, “{result['title']}”"
    return call.tool


def _said(item: ThreadItem) -> MessageCreate:
    """The message that stands for an item: its words, or its tool call, and the item itself."""
    fields: dict[str, Any] = {"role": "system", "content": ""}
    match item:
        case UserMessageItem():
            fields = {"role": "user", "content": "".join(part.text for part in item.content)}
        case AssistantMessageItem():
            fields = {"role": "assistant", "content": "".join(part.text for part in item.content)}
        case WidgetItem() | GeneratedImageItem():
            fields = {"role": "assistant", "content": getattr(item, "copy_text", None) or ""}
        case ClientToolCallItem():
            fields = {
                "role": "tool",
                "content": "" if item.output is None else json.dumps(item.output),
                "tool_calls": [{"tool": item.name, "arguments": item.arguments}],
            }
            if item.status == "completed":
                fields["tool_results"] = [{"tool": item.name, "result": item.output}]
        case TaskItem():
            fields["content"] = getattr(item.task, "content", None) or item.task.title or ""
        case HiddenContextItem() | SDKHiddenContextItem():
            content = item.content
            fields["content"] = content if isinstance(content, str) else json.dumps(content)
    stored = {"key": item.id, **fields, "metadata": {ITEM: item.model_dump(mode="json")}}
    return parse(MessageCreate, stored)
