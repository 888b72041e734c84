"""What every assistant is: given the history and a message, it writes an answer, using tools."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from todochat.chat.tools import TaskTools, ToolCall
from todochat.conversations.models import MessageView, Role


@dataclass(frozen=True)
class Said:
    """One earlier message of the conversation, as an assistant sees it."""

    seq: int
    role: Role
    content: str
    call: ToolCall | None = None  # what a `tool` message records

    @classmethod
    def of(cls, message: MessageView) -> "Said":
        """The message as an assistant sees it."""
        return cls(message.seq, message.role, message.content, ToolCall.recorded(message))


class Assistant(Protocol):
    """Answers a person's message, acting on their tasks only through `tools`."""

    def respond(
        self, history: Sequence[Said], message: str, tools: TaskTools, *, stream: bool
    ) -> AsyncIterator[str]:
        """The answer to `message`: in pieces as it is written if `stream`, else in one piece.

        The calls made are kept in `tools.calls`.
        """
        ...

    async def close(self) -> None:
        """Release what the assistant holds, such as its model client's connections."""
        ...
