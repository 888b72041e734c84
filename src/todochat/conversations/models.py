"""The `conversations` and `messages` tables and their schemas."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from todochat.orm import Base, enum_column, utcnow
from todochat.validation import MAX_USER_ID_CHARS, JsonList, JsonObject, StrictText

MAX_CONTENT_CHARS = 100_000
MAX_MESSAGE_CHARS = 10_000
MAX_KEY_CHARS = 255
MAX_TITLE_CHARS = 255
# Where a name is needed (a ChatKit id), a conversation or message without a key is named by
# its number; a key of that form would name two of them, so none may take it.
NUMBERED_CONVERSATION = re.compile(r"conversation-([0-9]{1,10})")
NUMBERED_MESSAGE = re.compile(r"message-([0-9]{1,10})")


def deleted_index(table: str) -> Index:
    """The soft-deleted rows of `table` by owner and time: what retention purges, and only that."""
    return Index(
        f"ix_{table}_user_deleted",
        "user_id",
        "deleted_at",
        postgresql_where=text("deleted_at IS NOT NULL"),
        sqlite_where=text("deleted_at IS NOT NULL"),
    )


class Conversation(Base):
    """A thread of messages between a user and the assistant; `id` is the user's own number."""

    __tablename__ = "conversations"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # A name the caller chose (an Agents SDK session id, a ChatKit thread id), unique per user.
    key: Mapped[str | None] = mapped_column(String(MAX_KEY_CHARS))
    title: Mapped[str | None] = mapped_column(String(MAX_TITLE_CHARS))
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    deleted_at: Mapped[datetime | None]
    # Archived conversations leave the default list but keep working.
    archived_at: Mapped[datetime | None]
    # Hands out message numbers 1, 2, 3… within the conversation.
    last_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    # While the assistant answers, until when its turn holds the conversation (a claim that
    # expires on its own, so a crashed process never blocks the conversation).
    turn_until: Mapped[datetime | None]

    __table_args__ = (
        # A user's listed conversations, most recent activity first (scanned backwards).
        Index(
            "ix_conversations_user_live_recent",
            "user_id",
            "updated_at",
            "id",
            postgresql_where=text("deleted_at IS NULL AND archived_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL AND archived_at IS NULL"),
        ),
        # A unique index rather than a constraint: SQLite adds one without copying the table.
        Index("uq_conversations_user_key", "user_id", "key", unique=True),
        # The same for archived ones.
        Index(
            "ix_conversations_user_archived_recent",
            "user_id",
            "updated_at",
            "id",
            postgresql_where=text("deleted_at IS NULL AND archived_at IS NOT NULL"),
            sqlite_where=text("deleted_at IS NULL AND archived_at IS NOT NULL"),
        ),
        deleted_index("conversations"),
    )


class Role(StrEnum):
    """Who said a message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class Message(Base):
    """One message; `seq` numbers it within its conversation in the order it was accepted."""

    __tablename__ = "messages"

    user_id: Mapped[str] = mapped_column(String(MAX_USER_ID_CHARS), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # A name the caller chose (a ChatKit item id), unique within the conversation.
    key: Mapped[str | None] = mapped_column(String(MAX_KEY_CHARS))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    content: Mapped[str] = mapped_column(Text)
    tool_calls: Mapped[list[Any] | None]
    tool_results: Mapped[list[Any] | None]
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        # The owner is part of the key: a message cannot sit in another user's conversation.
        ForeignKeyConstraint(
            ["user_id", "conversation_id"],
            ["conversations.user_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        Index("uq_messages_conversation_key", "user_id", "conversation_id", "key", unique=True),
        deleted_index("messages"),
    )


class ConversationView(NamedTuple):
    """A stored conversation, as listings read it."""

    id: int
    key: str | None
    title: str | None
    meta: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    archived_at: datetime | None


class MessageView(NamedTuple):
    """A stored message, as the message store reads it."""

    seq: int
    key: str | None
    role: Role
    content: str
    tool_calls: list[Any] | None
    tool_results: list[Any] | None
    meta: dict[str, Any] | None
    created_at: datetime
    deleted_at: datetime | None = None


def _unnumbered(pattern: re.Pattern[str], kind: str) -> AfterValidator:
    def check(key: str) -> str:
        if pattern.fullmatch(key):
            raise ValueError(f"must not have the form {kind}-N, which names {kind} N")
        return key

    return AfterValidator(check)


# What a person may say: to the assistant, or in place of a message of theirs.
PersonMessage = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS),
    StrictText(visible=True),
]
# Keys are names, compared exactly: no trimming.
_Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_CHARS), StrictText()]
ConversationKey = Annotated[_Key, _unnumbered(NUMBERED_CONVERSATION, "conversation")]
MessageKey = Annotated[_Key, _unnumbered(NUMBERED_MESSAGE, "message")]
ConversationTitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_CHARS),
    StrictText(visible=True),
]


class ConversationCreate(BaseModel):
    """A new conversation."""

    model_config = ConfigDict(extra="forbid")

    key: ConversationKey | None = None
    title: ConversationTitle | None = None
    metadata: JsonObject | None = None


class ConversationUpdate(BaseModel):
    """A partial change to a conversation: only the fields given are changed (null clears)."""

    model_config = ConfigDict(extra="forbid")

    key: ConversationKey | None = None
    title: ConversationTitle | None = None
    metadata: JsonObject | None = None


class ConversationPublic(BaseModel):
    """A conversation as clients see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str | None
    title: str | None
    metadata: dict[str, Any] | None = Field(validation_alias="meta")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    archived_at: datetime | None


class MessageCreate(BaseModel):
    """A message to append."""

    model_config = ConfigDict(extra="forbid")

    key: MessageKey | None = None
    role: Role
    content: Annotated[str, StringConstraints(max_length=MAX_CONTENT_CHARS), StrictText()]
    tool_calls: JsonList | None = None
    tool_results: JsonList | None = None
    metadata: JsonObject | None = None


class MessagePublic(BaseModel):
    """A message as clients see it."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    role: Role
    content: str
    tool_calls: list[Any] | None
    tool_results: list[Any] | None
    metadata: dict[str, Any] | None = Field(validation_alias="meta")
    created_at: datetime
    deleted_at: datetime | None


class MessageEdit(BaseModel):
    """New text for a person's own message; the text it replaces is kept in its metadata."""

    model_config = ConfigDict(extra="forbid")

    content: PersonMessage
