"""Domain errors: raised by stores, mapped to HTTP, MCP and CLI answers in one place each."""

from dataclasses import dataclass


class TodochatError(Exception):
    """An error a client caused and can be told about."""


class NotFound(TodochatError):
    """The object does not exist for this user (whether or not it exists for another)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} not found")


@dataclass(frozen=True)
class FieldError:
    """One rule one field broke."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class Invalid(TodochatError):
    """Input that breaks a rule; nothing was written."""

    def __init__(self, *errors: FieldError) -> None:
        self.errors = errors
        super().__init__("; ".join(map(str, errors)))

    @classmethod
    def field(cls, field: str, rule: str) -> "Invalid":
        """The error for a single field."""
        return cls(FieldError(field, rule))


class TurnInProgress(TodochatError):
    """The conversation's assistant is still answering an earlier message."""

    def __init__(self, conversation_id: int | None = None) -> None:
        self.conversation_id = conversation_id
        where = f" in conversation {conversation_id}" if conversation_id else ""
        super().__init__(f"the assistant is still answering{where}; try again when it is done")


class TurnFailed(TodochatError):
    """The assistant could not answer; the message was kept and the conversation says so."""

    def __init__(self, conversation_id: int, reason: str) -> None:
        self.conversation_id = conversation_id
        self.reason = reason
        super().__init__(f"the assistant could not answer: {reason}")


class Conflict(TodochatError):
    """Another object of the user's already has this unique value (a key)."""

    def __init__(self, kind: str, field: str, value: object) -> None:
        self.kind = kind
        self.field = field
        self.value = value
        super().__init__(f"another {kind} has the {field} {value!r}")


class DatabaseUnavailable(TodochatError):
    """The database cannot serve the request now: unreachable, restarting, or busy past the
    wait allowed. Nothing of the request was written, or its outcome was never acknowledged."""

    RETRY_AFTER_SECONDS = 2

    def __init__(self, *, busy: bool = False) -> None:
        self.busy = busy
        self.retry_after = self.RETRY_AFTER_SECONDS
        state = "busy" if busy else "unreachable"
        super().__init__(f"the database is {state} right now; try again in a few seconds")
