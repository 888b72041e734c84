"""`POST /chatkit`: the OpenAI ChatKit server protocol, with the API's bearer token."""

from fastapi import APIRouter, Request, Response

from todochat.api import TokenUser
from todochat.problems import ERROR_RESPONSES
from todochat.users.store import KnownUsers

router = APIRouter(tags=["chatkit"], responses=ERROR_RESPONSES)


@router.post(
    "/chatkit",
    response_class=Response,
    responses={
        200: {
            "description": "JSON; Server-Sent Events for a request that streams an answer"
            " (threads.create, threads.add_user_message, threads.retry_after_item)",
            "content": {"application/json": {}, "text/event-stream": {}},
        }
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A ChatKit request: `{type, params}`",
        }
    },
)
async def chatkit(request: Request, user: TokenUser) -> Response:
    """One ChatKit request on the user's conversations (threads) and their messages (items)."""
    # ChatKit brings the Agents SDK, seconds to import: only a process that serves it pays.
    from todochat.integrations.chatkit.server import serve, server_for  # noqa: PLC0415

    known: KnownUsers = request.app.state.known_users
    await known.ensure(user)
    return await serve(server_for(request.app.state), await request.body(), user)
