"""The chat endpoint's request and answer, and the `idempotency_keys` table behind its retries."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from todochat.conversations.models import PersonMessage
from todochat.orm import Base, utcnow
from todochat.validation import StrictNumber

MAX_IDEMPOTENCY_KEY_CHARS = 255


class ChatRequest(BaseModel):
    """A person's message, in a conversation or starting a new one."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: StrictNumber | None = None
    message: PersonMessage


class ToolCallPublic(BaseModel):
    """A tool the assistant called, with what it returned (or `{"error": …}`)."""

    tool: str
    arguments: dict[str, Any]
    result: Any


class ChatResponse(BaseModel):
    """The assistant's answer and what it did."""

    conversation_id: int
    response: str
    tool_calls: list[ToolCallPublic]


class IdempotencyKey(Base):
    """A chat request a client may retry: its first answer, kept to be given again."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(MAX_IDEMPOTENCY_KEY_CHARS), primary_key=True)
    # What the request asked (a hash): the same key on a different request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Until when the first request's turn may still be running; a key whose turn died with
    # its process can be taken over after that.
    pending_until: Mapped[datetime | None]
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | None]
    conversation_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
