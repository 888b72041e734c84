"""HTTP endpoints for a user's conversations and their messages."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from todochat.api import Access, Number
from todochat.conversations.models import (
    MAX_KEY_CHARS,
    ConversationCreate,
    ConversationPublic,
    ConversationUpdate,
    MessageEdit,
    MessagePublic,
)
from todochat.conversations.store import (
    MAX_CURSOR_CHARS,
    MAX_PAGE,
    ConversationStore,
    MessageStore,
)
from todochat.errors import NotFound
from todochat.problems import ERROR_RESPONSES, ErrorBody
from todochat.routing import PlannedRoute
from todochat.validation import MAX_NUMBER, Text
from todochat.views import Public, json_response

router = APIRouter(
    prefix="/api/{user_id}/conversations",
    tags=["conversations"],
    responses=ERROR_RESPONSES,
    route_class=PlannedRoute,
)
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]
CONVERSATION = Public(ConversationPublic)
MESSAGE = Public(MessagePublic)
KEY_TAKEN: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorBody, "description": "Another of the user's conversations has the key"}
}


class ConversationPagePublic(BaseModel):
    """Live conversations, most recent activity first; pass `next_cursor` as `cursor` for more."""

    items: list[ConversationPublic]
    next_cursor: str | None


class MessagePagePublic(BaseModel):
    """Messages oldest first; pass `next_before` as `before` for the page before them."""

    items: list[MessagePublic]
    next_before: int | None


@router.get("", response_model=ConversationPagePublic)
async def list_conversations(
    access: Access,
    limit: PageSize = 20,
    cursor: Annotated[Text | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    archived: Annotated[bool, Query(description="List the archived ones instead")] = False,
    key: Annotated[
        Text | None,
        Query(min_length=1, max_length=MAX_KEY_CHARS, description="Only the one with this key"),
    ] = None,
) -> Response:
    """Live conversations, most recent activity first, one page after `cursor`."""
    async with access.reading(ConversationStore) as conversations:
        if key is not None:
            try:
                found = [await conversations.by_key(key)]
            except NotFound:
                found = []
            return json_response({"items": CONVERSATION.all(found), "next_cursor": None})
        page = await conversations.list(limit=limit, cursor=cursor, archived=archived)
    return json_response({"items": CONVERSATION.all(page.items), "next_cursor": page.next_cursor})


@router.post("", status_code=status.HTTP_201_CREATED, responses=KEY_TAKEN)
async def create_conversation(
    access: Access, data: ConversationCreate | None = None
) -> ConversationPublic:
    """Start a conversation, optionally with a key, a title and metadata."""
    async with access.writing(ConversationStore) as conversations:
        return ConversationPublic.model_validate(await conversations.create(data))


@router.get("/{conversation_id}")
async def get_conversation(access: Access, conversation_id: Number) -> ConversationPublic:
    """One live conversation."""
    async with access.reading(ConversationStore) as conversations:
        return ConversationPublic.model_validate(await conversations.get(conversation_id))


@router.patch("/{conversation_id}", responses=KEY_TAKEN)
async def update_conversation(
    access: Access, conversation_id: Number, changes: ConversationUpdate
) -> ConversationPublic:
    """Rename the conversation, change its key or replace its metadata."""
    async with access.writing(ConversationStore) as conversations:
        return ConversationPublic.model_validate(
            await conversations.update(conversation_id, changes)
        )


@router.delete("/{conversation_id}")
async def delete_conversation(access: Access, conversation_id: Number) -> ConversationPublic:
    """Soft-delete the conversation: hidden with its messages until restored."""
    async with access.writing(ConversationStore) as conversations:
        return ConversationPublic.model_validate(await conversations.soft_delete(conversation_id))


@router.post("/{conversation_id}/restore")
async def restore_conversation(access: Access, conversation_id: Number) -> ConversationPublic:
    """Bring back a soft-deleted conversation."""
    async with access.writing(ConversationStore) as conversations:
        return ConversationPublic.model_validate(await conversations.restore(conversation_id))


@router.post("/{conversation_id}/archive")
async def archive_conversation(access: Access, conversation_id: Number) -> ConversationPublic:
    """Take the conversation out of the default list; it can still be read and talked in."""
    async with access.writing(ConversationStore) as conversations:
        return ConversationPublic.model_validate(await conversations.archive(conversation_id))


@router.post("/{conversation_id}/unarchive")
async def unarchive_conversation(access: Access, conversation_id: Number) -> ConversationPublic:
    """Put an archived conversation back in the default list."""
    async with access.writing(ConversationStore) as conversations:
        return ConversationPublic.model_validate(await conversations.unarchive(conversation_id))


@router.get("/{conversation_id}/messages", response_model=MessagePagePublic)
async def list_messages(
    access: Access,
    conversation_id: Number,
    limit: PageSize = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
    deleted: Annotated[bool, Query(description="Include soft-deleted messages")] = False,
) -> Response:
    """The latest messages, or those just before `before`, oldest first."""
    async with access.reading(MessageStore) as messages:
        if before is None:
            items = await messages.latest(conversation_id, limit, deleted=deleted)
        else:
            items = await messages.before(conversation_id, before, limit, deleted=deleted)
    has_older = bool(items) and items[0].seq > 1 and len(items) == limit
    return json_response(
        {"items": MESSAGE.all(items), "next_before": items[0].seq if has_older else None}
    )


@router.patch("/{conversation_id}/messages/{seq}")
async def edit_message(
    access: Access, conversation_id: Number, seq: Number, edit: MessageEdit
) -> MessagePublic:
    """Change the text of your own message; its metadata keeps `edited_at` and the old text."""
    async with access.writing(MessageStore) as messages:
        return MessagePublic.model_validate(await messages.edit(conversation_id, seq, edit.content))


@router.delete("/{conversation_id}/messages/{seq}")
async def delete_message(access: Access, conversation_id: Number, seq: Number) -> MessagePublic:
    """Soft-delete your own message: it leaves listings, search and the assistant's memory."""
    async with access.writing(MessageStore) as messages:
        return MessagePublic.model_validate(await messages.delete(conversation_id, seq))
