"""One stateless chat turn: history from the database, the assistant, everything stored."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from todochat.chat.assistant import Assistant, AssistantUnavailable, Said
from todochat.chat.tools import TaskTools, ToolCall
from todochat.conversations.models import ConversationCreate, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.tasks.store import TaskStore
from todochat.users.models import UserProfile
from todochat.users.store import UserStore

# Earlier messages the assistant sees. A tool call and its result share one message row,
# so no window can split them.
HISTORY_WINDOW = 20
TITLE_CHARS = 80


@dataclass(frozen=True)
class Turn:
    """What a turn answered."""

    conversation_id: int
    response: str
    tool_calls: list[ToolCall]


class TurnFailed(Exception):
    """The assistant failed; the user's message was kept and the conversation says so."""

    def __init__(self, conversation_id: int, reason: str) -> None:
        self.conversation_id = conversation_id
        self.reason = reason
        super().__init__(f"the assistant could not answer: {reason}")


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"


async def _open(
    session: AsyncSession,
    user_id: str,
    profile: UserProfile,
    conversation_id: int | None,
    message: str,
) -> int:
    """Make sure the user and conversation exist; store the message; the conversation's number."""
    await UserStore(session, user_id).ensure(profile)
    if conversation_id is None:
        created = await ConversationStore(session, user_id).create(
            ConversationCreate(title=_title(message))
        )
        conversation_id = created.id
    await MessageStore(session, user_id).append(
        conversation_id, [MessageCreate(role=Role.USER, content=message)]
    )
    return conversation_id


async def chat_turn(
    database: Database,
    assistant: Assistant,
    user_id: str,
    message: str,
    *,
    conversation_id: int | None = None,
    profile: UserProfile | None = None,
) -> Turn:
    """Answer `message`: the user's message, the answer and the task changes land together."""
    profile = profile or UserProfile()
    try:
        async with database.transaction(user_id) as session:
            # Appending first locks the conversation: concurrent turns on it run in order,
            # each seeing the one before.
            number = await _open(session, user_id, profile, conversation_id, message)
            messages = MessageStore(session, user_id)
            history = await messages.latest(number, HISTORY_WINDOW + 1)
            tools = TaskTools(TaskStore(session, user_id))
            answer = await assistant.respond(
                [Said(m.role, m.content) for m in history[:-1]], message, tools
            )
            await messages.append(
                number,
                [
                    MessageCreate(
                        role=Role.ASSISTANT,
                        content=answer,
                        tool_calls=[{"tool": c.tool, "arguments": c.arguments} for c in tools.calls]
                        or None,
                        tool_results=[_outcome(c) for c in tools.calls] or None,
                    )
                ],
            )
            return Turn(number, answer, tools.calls)
    except AssistantUnavailable as failure:
        # Everything the turn did is rolled back; keep the person's words and the failure.
        async with database.transaction(user_id) as session:
            number = await _open(session, user_id, profile, conversation_id, message)
            await MessageStore(session, user_id).append(
                number,
                [
                    MessageCreate(
                        role=Role.ASSISTANT,
                        content=f"Sorry, I couldn't answer just now ({failure}). Please try again.",
                        metadata={"error": "assistant_unavailable", "detail": str(failure)},
                    )
                ],
            )
        raise TurnFailed(number, str(failure)) from failure


def _outcome(call: ToolCall) -> dict[str, object]:
    if call.error is not None:
        return {"tool": call.tool, "error": call.error}
    return {"tool": call.tool, "result": call.result}
