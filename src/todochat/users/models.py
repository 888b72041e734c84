"""The `users` table and its schemas."""

from datetime import datetime
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from todochat.orm import Base, utcnow
from todochat.validation import MAX_USER_ID_CHARS, StrictText

MAX_EMAIL_CHARS = 320  # a 64-character local part, "@", a 255-character domain
MAX_NAME_CHARS = 255


class User(Base):
    """A person, keyed by the subject of their auth tokens; owns tasks and conversations."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(MAX_USER_ID_CHARS), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(MAX_EMAIL_CHARS))
    name: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Per-user counters that hand out task and conversation numbers 1, 2, 3…, never reused.
    last_task_id: Mapped[int] = mapped_column(default=0, server_default="0")
    last_conversation_id: Mapped[int] = mapped_column(default=0, server_default="0")


class UserView(NamedTuple):
    """A stored user, as the user store reads it."""

    id: str
    email: str | None
    name: str | None
    created_at: datetime
    updated_at: datetime


class UserProfile(BaseModel):
    """What a token may say about its user."""

    email: Annotated[str, StringConstraints(max_length=MAX_EMAIL_CHARS), StrictText()] | None = None
    name: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=MAX_NAME_CHARS), StrictText()
        ]
        | None
    ) = None


class UserPublic(UserProfile):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    updated_at: datetime
