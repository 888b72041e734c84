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
