"""Every error todochat raises on purpose, under one base, knowing nothing of how it is shown.

Stores, the chat and the tools raise them; each surface tells them its own way, in one place
each: HTTP in `problems`, MCP in `mcp.server` (and the task tools, for assistants), the
command line in `cli`. This module imports nothing of the project, so anything may import it.
"""

from collections.abc import Iterable
from dataclasses import dataclass


def echoable(text: str) -> str:
    """`text` with any lone surrogate (say, from a refused key) escaped, so it encodes as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def field_name(location: Iterable[object]) -> str:
    """A validation error's location as a dotted name, safe to send back."""
    return echoable(".".join(str(part) for part in location))


@dataclass(frozen=True)
class FieldError:
    """One rule one field broke."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class TodochatError(Exception):
    """An error todochat raises on purpose, with a message that may be shown to its caller."""

    # Seconds after which the same request may succeed; None: it would fail again.
    retry_after: int | None = None

    @property
    def fields(self) -> tuple[FieldError, ...]:
        """The fields the error is about, each with the rule it broke."""
        return ()


# --- Requests: who asks, and how often -----------------------------------------------------


class Unauthenticated(TodochatError):
    """The request carries no token, or one that does not verify."""

    def __init__(self, reason: str, *, token_given: bool = True) -> None:
        self.token_given = token_given
        super().__init__(reason)


class AuthUnavailable(TodochatError):
    """The keys that would verify the token cannot be fetched right now."""

    retry_after = 5


class Forbidden(TodochatError):
    """A valid token for another user than the one the request names."""


class RateLimited(TodochatError):
    """The user has spent a budget ("writes", "chat turns"); it allows another in `retry_after`
    seconds."""

    def __init__(self, budget: str, retry_after: int) -> None:
        self.budget = budget
        self.retry_after = retry_after
        super().__init__(f"too many {budget}: try again in {retry_after} seconds")


# --- The domain: tasks, conversations, messages, accounts ----------------------------------


class NotFound(TodochatError):
    """The object does not exist for this user (whether or not it exists for another)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} not found")


class Invalid(TodochatError):
    """Input that breaks a rule; nothing was written."""

    def __init__(self, *errors: FieldError) -> None:
        self.errors = errors
        super().__init__("; ".join(map(str, errors)))

    @classmethod
    def field(cls, field: str, rule: str) -> "Invalid":
        """The error for a single field."""
        return cls(FieldError(field, rule))

    @property
    def fields(self) -> tuple[FieldError, ...]:
        """Each field given, with the rule it broke."""
        return self.errors


class Conflict(TodochatError):
    """Another object of the user's already has this unique value (a key)."""

    def __init__(self, kind: str, field: str, value: object) -> None:
        self.kind = kind
        self.field = field
        self.value = value
        super().__init__(f"another {kind} has the {field} {value!r}")

    @property
    def fields(self) -> tuple[FieldError, ...]:
        """The field whose value is taken."""
        return (FieldError(self.field, "is taken"),)


class AccountInUse(TodochatError):
    """The account to import into already holds data or has handed out numbers."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"user {user_id} already has data: import only into an empty account")


# --- The assistant: turns, tools, the model ------------------------------------------------


class TurnInProgress(TodochatError):
    """The conversation's assistant is still answering an earlier message."""

    retry_after = 2

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


class AssistantUnavailable(TodochatError):
    """The model behind the assistant failed; the turn could not be answered."""


class ToolError(TodochatError):
    """A tool call that failed; the message is a sentence an assistant can repeat to a person."""


# --- Operations: the schema and the database -----------------------------------------------


class SchemaDrift(TodochatError):
    """The database schema and the models disagree."""


class CannotCreate(TodochatError):
    """The PostgreSQL database does not exist and this role may not create it."""


class DatabaseUnavailable(TodochatError):
    """The database cannot serve the request now: unreachable, restarting, or busy past the
    wait allowed. Nothing of the request was written, or its outcome was never acknowledged."""

    retry_after = 2

    def __init__(self, *, busy: bool = False) -> None:
        self.busy = busy
        state = "busy" if busy else "unreachable"
        super().__init__(f"the database is {state} right now; try again in a few seconds")
