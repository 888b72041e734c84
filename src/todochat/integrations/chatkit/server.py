"""ChatKit's server protocol answered by todochat's own chat turns.

ChatKit stores the person's message, then asks for the answer: a `Chat` turn answers that
stored message with the configured assistant and the task tools, stores each tool call and
the answer, and its events become ChatKit's (text as it is written, each tool call as a
task item, errors as error events).
"""

import logging
from collections.abc import AsyncIterator

from chatkit.errors import CustomStreamError, ErrorCode
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ChatKitReq,
    ErrorEvent,
    StreamOptions,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsRetryAfterItemReq,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageItem,
)
from fastapi import Response
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import State

from todochat.chat.models import ChatRequest
from todochat.chat.turn import Answered, Chat, Delta, Failed, ToolRan, title_of
from todochat.db import Database
from todochat.errors import DatabaseUnavailable, Invalid, TodochatError, TurnInProgress
from todochat.integrations.chatkit.store import Requester, TodochatStore, tool_item
from todochat.orm import utcnow
from todochat.problems import problem, problem_of
from todochat.users.auth import Identity
from todochat.validation import invalid, parse

log = logging.getLogger("todochat.chatkit")
REQUESTS: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)
SUPPORTED = {
    "threads.create",
    "threads.add_user_message",
    "threads.retry_after_item",
    "threads.get_by_id",
    "threads.list",
    "threads.update",
    "threads.delete",
    "items.list",
    "items.feedback",
}


class TodochatChatKit(ChatKitServer[Requester]):
    """ChatKit's server on the user's conversations, answered by the application's chat."""

    def __init__(self, database: Database, chat: Chat) -> None:
        self.conversations = TodochatStore(database)
        super().__init__(self.conversations)
        self._chat = chat

    def get_stream_options(self, thread: ThreadMetadata, context: Requester) -> StreamOptions:
        """A turn runs to its end whatever the client does: nothing to cancel."""
        return StreamOptions(allow_cancel=False)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: Requester
    ) -> None:
        """Nothing to keep: the turn goes on and stores its answer whole."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Requester
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The assistant's answer to the person's message, as a chat turn gives it."""
        if input_user_message is None:  # only client tools and structured input ask this
            return
        number, seq = await self.conversations.locate(thread.id, input_user_message.id, context)
        reply = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=utcnow(),
            content=[],
        )
        try:
            turn = await self._chat.answer(context.identity, number, seq, reply_key=reply.id)
        except TurnInProgress as busy:
            # As the chat endpoint's 409: the message is not kept; the person sends it again.
            yield ThreadItemRemovedEvent(item_id=input_user_message.id)
            raise CustomStreamError(str(busy), allow_retry=False) from None
        except TodochatError as refused:
            retry = isinstance(refused, DatabaseUnavailable)
            raise CustomStreamError(str(refused), allow_retry=retry) from None
        if thread.title is None:  # ChatKit stores the thread when it changed
            thread.title = title_of(_text(input_user_message)) or None
        writing = False
        async for event in turn.events():
            match event:
                case Delta(text):
                    if not writing:
                        writing = True
                        yield ThreadItemAddedEvent(item=reply)
                        yield _update(
                            reply,
                            AssistantMessageContentPartAdded(
                                content_index=0, content=AssistantMessageContent(text="")
                            ),
                        )
                    yield _update(
                        reply, AssistantMessageContentPartTextDelta(content_index=0, delta=text)
                    )
                case ToolRan(call) if call.seq is not None:  # stored: ChatKit adds nothing
                    yield ThreadItemDoneEvent(item=tool_item(call, thread.id))
                case Answered(answer):
                    content = AssistantMessageContent(text=answer.response)
                    if writing:
                        yield _update(
                            reply, AssistantMessageContentPartDone(content_index=0, content=content)
                        )
                    yield ThreadItemDoneEvent(item=reply.model_copy(update={"content": [content]}))
                case Failed(failure):
                    raise CustomStreamError(problem_of(failure).body.detail, allow_retry=True)


def _update(
    reply: AssistantMessageItem,
    update: AssistantMessageContentPartAdded
    | AssistantMessageContentPartTextDelta
    | AssistantMessageContentPartDone,
) -> ThreadItemUpdatedEvent:
    return ThreadItemUpdatedEvent(item_id=reply.id, update=update)


def _text(message: UserMessageItem | UserMessageInput) -> str:
    return "".join(part.text for part in message.content)


async def serve(server: TodochatChatKit, body: bytes, identity: Identity) -> Response:
    """The answer to one ChatKit request: SSE for a request that streams, JSON otherwise."""
    try:
        request = REQUESTS.validate_json(body)
    except ValidationError as error:
        raise invalid(error) from None
    _check(request)
    context = Requester(identity)
    try:
        if isinstance(request, ThreadsRetryAfterItemReq):
            # ChatKit would do nothing for a missing item, and fail on another kind.
            params = request.params
            item = await server.store.load_item(params.thread_id, params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise Invalid.field("item_id", "is not a person's message")
        result = await server.process(body, context)
        if not isinstance(result, StreamingResult):
            return Response(result.json, media_type="application/json")
        events = aiter(result)
        # Whatever fails before the first event (a thread not found) is an HTTP error.
        first = await anext(events, b"")
    except NotFoundError as error:
        return problem(404, "not_found", str(error))
    return StreamingResponse(_stream(first, events), media_type="text/event-stream")


def _check(request: ChatKitReq) -> None:
    if request.type not in SUPPORTED:
        raise Invalid.field("type", f"{request.type} is not supported by this server")
    if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
        given = request.params.input
        if given.attachments:
            raise Invalid.field("attachments", "are not supported")
        parse(ChatRequest, {"message": _text(given)})


async def _stream(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    try:
        async for event in rest:
            yield event
    except Exception:
        log.exception("a ChatKit stream failed")
        error = ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=False)
        yield b"data: " + error.model_dump_json().encode() + b"\n\n"


def server_for(state: State) -> TodochatChatKit:
    """The application's ChatKit server, made on its first request."""
    server: TodochatChatKit | None = getattr(state, "chatkit", None)
    if server is None:
        server = state.chatkit = TodochatChatKit(state.database, state.chat)
    return server
