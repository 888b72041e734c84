"""The chat endpoint: one stateless turn per request, answered as JSON or streamed as SSE."""

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from todochat.api import CurrentUser
from todochat.chat.models import MAX_IDEMPOTENCY_KEY_CHARS, ChatRequest, ChatResponse
from todochat.chat.turn import Answered, Chat, Delta, Failed, RunningTurn, ToolRan
from todochat.problems import ERROR_RESPONSES, ErrorBody, problem_of
from todochat.routing import PlannedRoute

router = APIRouter(
    prefix="/api/{user_id}/chat", tags=["chat"], responses=ERROR_RESPONSES, route_class=PlannedRoute
)
STREAM = "text/event-stream"


async def chat_service(request: Request) -> Chat:
    """The application's chat turns (async: a plain function would run in a thread)."""
    chat: Chat = request.app.state.chat
    return chat


ChatDep = Annotated[Chat, Depends(chat_service)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        description="Repeat it on a retry to get the first answer instead of a second turn",
    ),
]


@router.post(
    "",
    response_model=ChatResponse,
    responses={
        200: {
            "description": "The answer; with `Accept: text/event-stream`, as Server-Sent Events:"
            " `conversation`, then `delta` and `tool_call`, then `done` (this body) or `error`",
            "content": {STREAM: {"schema": {"type": "string"}}},
        },
        409: {"model": ErrorBody, "description": "The conversation's previous turn is running"},
        502: {"model": ErrorBody, "description": "The assistant's model failed; message kept"},
    },
)
async def chat(
    request: Request,
    user: CurrentUser,
    chat: ChatDep,
    body: ChatRequest,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response | ChatResponse:
    """Send a message to the assistant, which may act on the user's tasks."""
    streaming = STREAM in request.headers.get("accept", "")
    turn = await chat.start(
        user,
        body.message,
        conversation_id=body.conversation_id,
        key=idempotency_key,
        stream=streaming,
    )
    if streaming:
        return EventSourceResponse(_stream(turn), sep="\n", ping=15)
    return await turn.reply()


async def _stream(turn: RunningTurn) -> AsyncIterator[ServerSentEvent]:
    yield _event("conversation", {"conversation_id": turn.conversation_id})
    async for event in turn.events():
        match event:
            case Delta(text):
                yield _event("delta", {"text": text})
            case ToolRan(call):
                yield _event("tool_call", call.public().model_dump())
            case Answered(reply):
                yield _event("done", reply.model_dump())
            case Failed(error):
                yield _event("error", problem_of(error).body.model_dump())


def _event(name: str, data: object) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=json.dumps(data, ensure_ascii=False))
