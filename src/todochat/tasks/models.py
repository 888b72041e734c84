"""The `tasks` table and its schemas."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false, func, text
from sqlalchemy.orm import Mapped, mapped_column

from todochat.orm import Base, enum_column, utcnow
from todochat.validation import StrictText, never_null

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 1000
MAX_TAG_CHARS = 50
MAX_TAGS = 20
MAX_PAGE = 200  # tasks in one listing


class Priority(StrEnum):
    """How much a task matters."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Status(StrEnum):
    """Which tasks a listing shows."""

    ALL = "all"
    PENDING = "pending"
    COMPLETED = "completed"


class SortKey(StrEnum):
    """What a task listing is ordered by."""

    ID = "id"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    PRIORITY = "priority"
    TITLE = "title"


class Order(StrEnum):
    """Direction of a sort."""

    ASC = "asc"
    DESC = "desc"


class Task(Base):
    """One item of a user's to-do list; `id` is the user's own task number."""

    __tablename__ = "tasks"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    description: Mapped[str | None] = mapped_column(String(MAX_DESCRIPTION_CHARS))
    completed: Mapped[bool] = mapped_column(default=False, server_default=false())
    priority: Mapped[Priority] = mapped_column(
        enum_column(Priority, "priority"), default=Priority.NONE, server_default=Priority.NONE.value
    )
    tags: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(f"length(title) BETWEEN 1 AND {MAX_TITLE_CHARS}", name="title_length"),
        CheckConstraint(
            f"length(description) <= {MAX_DESCRIPTION_CHARS}", name="description_length"
        ),
        CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_at_set"),
        # A user's pending or completed tasks, in number order.
        Index("ix_tasks_user_status", "user_id", "completed", "id"),
    )


class TaskView(NamedTuple):
    """A stored task, as listings read it."""

    id: int
    title: str
    description: str | None
    completed: bool
    priority: Priority
    tags: list[Any]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def _distinct(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_CHARS),
    StrictText(visible=True),
]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS), StrictText()]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG_CHARS),
    StrictText(visible=True),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_distinct)]


class TaskBase(BaseModel):
    """Fields a person sets on a task."""

    title: Title
    description: Description | None = None
    priority: Priority = Priority.NONE
    tags: Tags = []


class TaskCreate(TaskBase):
    """A new task."""

    model_config = ConfigDict(extra="forbid")


class TaskUpdate(BaseModel):
    """A partial change to a task: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = Field(default=None, json_schema_extra=never_null)
    description: Description | None = None
    priority: Priority | None = Field(default=None, json_schema_extra=never_null)
    tags: Tags | None = Field(default=None, json_schema_extra=never_null)
    completed: StrictBool | None = Field(default=None, json_schema_extra=never_null)

    @model_validator(mode="after")
    def _required_fields_are_not_cleared(self) -> "TaskUpdate":
        for field in ("title", "priority", "tags", "completed"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class TaskPublic(TaskBase):
    """A task as clients see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    completed: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskQuery(BaseModel):
    """Which of a user's tasks to list, in what order, which page."""

    model_config = ConfigDict(extra="forbid")

    status: Status = Status.ALL
    priority: Priority | None = None
    tag: Tag | None = None
    # Part of a title: no longer than one.
    search: (
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS), StrictText()]
        | None
    ) = None
    sort: SortKey = SortKey.ID
    order: Order = Order.ASC
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)
