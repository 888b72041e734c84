"""The OpenAI Agents SDK's `Session` on todochat's store: a session is a conversation with a key.

Each item becomes an ordinary message that people read like any other: the person's words
(`user`), the model's (`assistant`), a function call and its output together in one `tool`
message shaped like a chat turn's, anything else (reasoning, hosted tools) as a `system`
message that views skip. The exact items ride along in the message's metadata, so the
session gives back precisely what it was given.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from agents.items import TResponseInputItem
from agents.memory.session_settings import SessionSettings, resolve_session_limit
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.chat.agent import history_items
from todochat.chat.assistant import Said
from todochat.chat.turn import title_of
from todochat.config import get_settings
from todochat.conversations.models import (
    ConversationCreate,
    ConversationKey,
    MessageCreate,
    MessageView,
    Role,
)
from todochat.conversations.store import MAX_PAGE, ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import Conflict, Invalid, NotFound
from todochat.users.store import UserStore
from todochat.validation import parse, storable

Item = dict[str, Any]
# The metadata entry holding the exact items a message stands for.
ITEMS = "agents"
# Calls, by the type of the output that answers them.
CALLS = {"function_call_output": "function_call", "custom_tool_call_output": "custom_tool_call"}
ROLES = {
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
}
# Messages looked at per read when the newest ones hold no items (failure notices).
SCAN = 20


class TodochatSession:
    """An Agents SDK session kept as the conversation of `user_id` whose key is `session_id`.

    The conversation is created on the first write; the same session id of another user is
    another conversation. REST, the web chat and ChatKit show it like any conversation, and
    a conversation made there (given a key) reads back here as model input items.
    """

    def __init__(
        self,
        session_id: str,
        *,
        user_id: str,
        database_url: str | None = None,
        database: Database | None = None,
        session_settings: SessionSettings | None = None,
    ) -> None:
        if database is not None and database_url is not None:
            raise ValueError("give database_url or database, not both")
        self.session_id = session_id
        self.user_id = user_id
        self.session_settings: SessionSettings | None = session_settings or SessionSettings()
        self._key = parse(_SessionId, {"session_id": session_id}).session_id
        self._owns_database = database is None
        self._database = database or Database(database_url or get_settings().database_url)

    @classmethod
    def on(
        cls,
        database: Database,
        session_id: str,
        *,
        user_id: str,
        session_settings: SessionSettings | None = None,
    ) -> "TodochatSession":
        """A session on a database the caller opened and will close (one pool for many)."""
        return cls(
            session_id, user_id=user_id, database=database, session_settings=session_settings
        )

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The latest `limit` items (all of them for None), oldest first."""
        wanted = resolve_session_limit(limit, self.session_settings)
        if wanted is not None and wanted <= 0:
            return []
        async with self._database.read(self.user_id) as session:
            number = await self._live(session)
            if number is None:
                return []
            messages = MessageStore(session, self.user_id)
            if wanted is None:
                found = await _all(messages, number)
            else:
                found = await _latest(messages, number, wanted)
        return [cast(TResponseInputItem, item) for item in found]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append `items`, each pair of a call and its output as one message."""
        if not items:
            return
        batch = [_storable(index, item) for index, item in enumerate(items)]
        said = [_message(group, _calls(batch)) for group in _groups(batch)]
        async with self._database.transaction(self.user_id) as session:
            number = await self._writable(session, said)
            await MessageStore(session, self.user_id).append(number, said)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the newest item; None when there is none."""
        async with self._database.transaction(self.user_id) as session:
            number = await self._live(session)
            if number is None:
                return None
            messages = MessageStore(session, self.user_id)
            await messages.hold(number)  # a concurrent pop waits, then finds the next item
            newest = await _newest(messages, number)
            if newest is None:
                return None
            message, items = newest
            if len(items) == 1:
                await messages.remove(number, message.seq)
            else:  # the output of a call: the call stays
                await messages.replace(number, message.seq, _message(items[:-1], {}))
            return cast(TResponseInputItem, items[-1])

    async def clear_session(self) -> None:
        """Delete every item of this session; other sessions are untouched."""
        async with self._database.transaction(self.user_id) as session:
            number = await self._live(session)
            if number is not None:
                await MessageStore(session, self.user_id).clear(number)

    async def close(self) -> None:
        """Close the connections of a database the session opened itself."""
        if self._owns_database:
            await self._database.dispose()

    async def _live(self, session: AsyncSession) -> int | None:
        try:
            return (await ConversationStore(session, self.user_id).by_key(self._key)).id
        except NotFound:
            return None

    async def _writable(self, session: AsyncSession, said: Sequence[MessageCreate]) -> int:
        conversations = ConversationStore(session, self.user_id)
        try:
            conversation = await conversations.by_key(self._key, include_deleted=True)
        except NotFound:
            await UserStore(session, self.user_id).ensure()
            first = next((m.content for m in said if m.role is Role.USER), "")
            start = ConversationCreate(key=self._key, title=title_of(first) or None)
            try:
                return (await conversations.create(start)).id
            except Conflict:  # a concurrent first write created it
                conversation = await conversations.by_key(self._key, include_deleted=True)
        if conversation.deleted_at is not None:
            raise Invalid.field(
                "session_id", "names a deleted conversation: restore it, or use another session id"
            )
        return conversation.id


class _SessionId(BaseModel):
    session_id: ConversationKey


def _storable(index: int, item: Mapping[str, Any]) -> Item:
    if not isinstance(item, Mapping):
        raise Invalid.field(f"items.{index}", "must be an object")
    storable(item, f"items.{index}")
    return dict(item)


def _groups(items: Sequence[Item]) -> Iterator[list[Item]]:
    """The items one message each, but a call followed by its own output as one."""
    index = 0
    while index < len(items):
        item, following = items[index], items[index + 1 : index + 2]
        if following and _answers(following[0], item):
            yield [item, following[0]]
            index += 2
        else:
            yield [item]
            index += 1


def _answers(output: Item, call: Item) -> bool:
    kind = output.get("type")
    return (
        kind in CALLS
        and CALLS[kind] == call.get("type")
        and (output.get("call_id") == call.get("call_id"))
    )


def _calls(items: Sequence[Item]) -> dict[str, Item]:
    return {item["call_id"]: item for item in items if item.get("type") in CALLS.values()}


def _message(items: Sequence[Item], calls: Mapping[str, Item]) -> MessageCreate:
    """The message that stands for `items`: one item, or a call and its output."""
    first, last = items[0], items[-1]
    kind = last.get("type")
    record: dict[str, Any]
    if kind in CALLS:
        call = first if len(items) == 2 else calls.get(last.get("call_id", ""))
        output = _text(last.get("output"))
        record = {
            "role": Role.TOOL,
            "content": output,
            "tool_results": [{**_tool(call), "result": _json_or_text(output)}],
        }
        if call is not None:
            record["tool_calls"] = [{**_tool(call), "arguments": _arguments(call)}]
    elif kind in CALLS.values():
        record = {
            "role": Role.TOOL,
            "content": str(last.get("arguments", last.get("input", ""))),
            "tool_calls": [{**_tool(last), "arguments": _arguments(last)}],
        }
    elif kind in (None, "message") and last.get("role") in ROLES:
        record = {"role": ROLES[last["role"]], "content": _text(last.get("content"))}
    elif kind == "reasoning":
        record = {"role": Role.SYSTEM, "content": _text(last.get("summary"))}
    else:
        record = {"role": Role.SYSTEM, "content": ""}
    # Checked by `_storable`; the message limits for people's input do not bind a session.
    return MessageCreate.model_construct(**record, metadata={ITEMS: list(items)})


def _tool(call: Item | None) -> dict[str, Any]:
    return {} if call is None else {"tool": call.get("name", call.get("type"))}


def _arguments(call: Item) -> Any:
    if "input" in call:  # a custom tool's free text
        return {"input": call["input"]}
    value = _json_or_text(str(call.get("arguments", "")))
    return value if isinstance(value, dict) else {}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text(content: Any) -> str:
    """The words in a content field: a string, or parts with text (or a refusal)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", part.get("refusal", "")))
            for part in content
            if isinstance(part, dict)
        )
    return ""


def _items_of(message: MessageView) -> list[Item]:
    """The items a message stands for: those stored with it, else as a chat turn reads it."""
    meta = message.meta or {}
    stored = meta.get(ITEMS)
    if isinstance(stored, list):
        return stored
    if meta.get("error"):  # failure notices are for people only
        return []
    return [cast(Item, item) for item in history_items([Said.of(message)])]


async def _latest(messages: MessageStore, number: int, wanted: int) -> list[Item]:
    window = min(wanted, MAX_PAGE)
    page = await messages.latest(number, window)
    items: list[Item] = []
    while True:
        items[:0] = [item for message in page for item in _items_of(message)]
        if len(items) >= wanted or len(page) < window:
            return items[-wanted:]
        page = await messages.before(number, page[0].seq, window)


async def _all(messages: MessageStore, number: int) -> list[Item]:
    items: list[Item] = []
    seq = 0
    while True:
        page = await messages.after(number, seq, MAX_PAGE)
        items += [item for message in page for item in _items_of(message)]
        if len(page) < MAX_PAGE:
            return items
        seq = page[-1].seq


async def _newest(messages: MessageStore, number: int) -> tuple[MessageView, list[Item]] | None:
    page = await messages.latest(number, SCAN)
    while page:
        for message in reversed(page):
            items = _items_of(message)
            if items:
                return message, items
        page = await messages.before(number, page[0].seq, SCAN) if len(page) == SCAN else []
    return None
