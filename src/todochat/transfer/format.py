"""The export file: JSON Lines, one object per row, in a fixed order with fixed formats.

    {"type":"todochat-export","version":1}
    {"type":"user",...}
    {"type":"task",...}                 every task, by number
    {"type":"conversation",...}         every conversation, by number, each followed by
    {"type":"message",...}              its messages, by seq

Keys keep the order below; JSON values have their keys sorted; timestamps are UTC with
microseconds (`2026-01-01T12:00:00.000000Z`). Exporting what was imported gives the same bytes.
"""

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from todochat.conversations import models as conversations
from todochat.conversations.models import MAX_CONTENT_CHARS, ConversationKey, MessageKey, Role
from todochat.tasks import models as tasks
from todochat.tasks.models import MAX_TAGS, Priority
from todochat.users import models as users
from todochat.validation import MAX_NUMBER, JsonList, JsonObject, StrictText, UserId

FORMAT = "todochat-export"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"

Number = Annotated[int, Field(ge=1, le=MAX_NUMBER)]
Counter = Annotated[int, Field(ge=0, le=MAX_NUMBER)]
Tag = Annotated[str, StringConstraints(max_length=tasks.MAX_TAG_CHARS), StrictText()]


def stamp(value: datetime) -> str:
    """A timestamp as the file writes it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def line(kind: str, fields: dict[str, Any]) -> str:
    """One line of the file: the object `{"type": kind, **fields}` in its fixed form."""
    values = {
        name: stamp(value) if isinstance(value, datetime) else _sorted(value)
        for name, value in fields.items()
    }
    text = json.dumps(
        {"type": kind, **values}, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return text + "\n"


def header() -> str:
    """The first line."""
    return line(FORMAT, {"version": VERSION})


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class HeaderLine(_Line):
    """The first line: which format and version the file is."""

    type: Literal["todochat-export"]
    version: Literal[1]


class UserLine(_Line):
    """The user, with the counters that number their tasks and conversations."""

    type: Literal["user"]
    id: UserId
    email: Annotated[str, StringConstraints(max_length=users.MAX_EMAIL_CHARS), StrictText()] | None
    name: Annotated[str, StringConstraints(max_length=users.MAX_NAME_CHARS), StrictText()] | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    last_task_id: Counter
    last_conversation_id: Counter


class TaskLine(_Line):
    """One task."""

    type: Literal["task"]
    id: Number
    title: Annotated[
        str, StringConstraints(min_length=1, max_length=tasks.MAX_TITLE_CHARS), StrictText()
    ]
    description: (
        Annotated[str, StringConstraints(max_length=tasks.MAX_DESCRIPTION_CHARS), StrictText()]
        | None
    )
    completed: bool
    priority: Priority
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    completed_at: AwareDatetime | None

    @model_validator(mode="after")
    def _completed_when_stamped(self) -> "TaskLine":
        if self.completed != (self.completed_at is not None):
            raise ValueError("completed must be true exactly when completed_at is set")
        return self


class ConversationLine(_Line):
    """One conversation; its messages follow it."""

    type: Literal["conversation"]
    id: Number
    key: ConversationKey | None = None
    title: (
        Annotated[str, StringConstraints(max_length=conversations.MAX_TITLE_CHARS), StrictText()]
        | None
    )
    metadata: JsonObject | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    deleted_at: AwareDatetime | None
    archived_at: AwareDatetime | None
    last_seq: Counter


class MessageLine(_Line):
    """One message of the conversation before it."""

    type: Literal["message"]
    conversation_id: Number
    seq: Number
    key: MessageKey | None = None
    role: Role
    content: Annotated[str, StringConstraints(max_length=MAX_CONTENT_CHARS), StrictText()]
    tool_calls: JsonList | None
    tool_results: JsonList | None
    metadata: JsonObject | None
    created_at: AwareDatetime
    deleted_at: AwareDatetime | None


AnyLine = Annotated[
    HeaderLine | UserLine | TaskLine | ConversationLine | MessageLine,
    Field(discriminator="type"),
]
LINE: TypeAdapter[AnyLine] = TypeAdapter(AnyLine)
