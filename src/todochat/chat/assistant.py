"""What every assistant is: given the history and a message, it answers, using the task tools."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from todochat.chat.tools import TaskTools
from todochat.conversations.models import Role


@dataclass(frozen=True)
class Said:
    """One earlier message of the conversation, as an assistant sees it."""

    role: Role
    content: str


class Assistant(Protocol):
    """Answers a person's message, acting on their tasks only through `tools`."""

    async def respond(self, history: Sequence[Said], message: str, tools: TaskTools) -> str:
        """The answer to `message`; the calls made are recorded in `tools.calls`."""
        ...


class AssistantUnavailable(Exception):
    """The model behind the assistant failed; the turn could not be answered."""
