"""The chat endpoint: one stateless turn per request."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from todochat.api import CurrentUser, DatabaseDep, chat_turn_allowed
from todochat.chat.assistant import Assistant
from todochat.chat.turn import chat_turn
from todochat.problems import ERROR_RESPONSES, ErrorBody
from todochat.validation import StrictNumber, StrictText

MAX_MESSAGE_CHARS = 10_000

router = APIRouter(prefix="/api/{user_id}/chat", tags=["chat"], responses=ERROR_RESPONSES)


class ChatRequest(BaseModel):
    """A person's message, in a conversation or starting a new one."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: StrictNumber | None = None
    message: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS),
        StrictText(visible=True),
    ]


class ToolCallPublic(BaseModel):
    """A tool the assistant called, with what it returned (or `{"error": …}`)."""

    tool: str
    arguments: dict[str, Any]
    result: Any


class ChatResponse(BaseModel):
    """The assistant's answer and what it did."""

    conversation_id: int
    response: str
    tool_calls: list[ToolCallPublic]


@router.post(
    "",
    dependencies=[Depends(chat_turn_allowed)],
    responses={
        502: {"model": ErrorBody, "description": "The assistant's model failed; message kept"}
    },
)
async def chat(
    request: Request, user: CurrentUser, database: DatabaseDep, body: ChatRequest
) -> ChatResponse:
    """Send a message to the assistant, which may act on the user's tasks."""
    assistant: Assistant = request.app.state.assistant
    turn = await chat_turn(
        database,
        assistant,
        user.user_id,
        body.message,
        conversation_id=body.conversation_id,
        profile=user.profile,
    )
    return ChatResponse(
        conversation_id=turn.conversation_id,
        response=turn.response,
        tool_calls=[
            ToolCallPublic(
                tool=call.tool,
                arguments=call.arguments,
                result=call.result if call.error is None else {"error": call.error},
            )
            for call in turn.tool_calls
        ],
    )
