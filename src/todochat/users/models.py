"""The `users` table and its schemas."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from todochat.orm import Base, utcnow
from todochat.validation import StrictText


class User(Base):
    """A person, keyed by the subject of their auth tokens; owns tasks and conversations."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Per-user counters that hand out task and conversation numbers 1, 2, 3…, never reused.
    last_task_id: Mapped[int] = mapped_column(default=0, server_default="0")
    last_conversation_id: Mapped[int] = mapped_column(default=0, server_default="0")


class UserProfile(BaseModel):
    """What a token may say about its user."""

    email: Annotated[str, StringConstraints(max_length=320), StrictText()] | None = None
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), StrictText()]
        | None
    ) = None


class UserPublic(UserProfile):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    updated_at: datetime
