"""`POST /chatkit`: the OpenAI ChatKit server protocol, with the API's bearer token."""

from fastapi import APIRouter, Request, Response

from todochat.api import TokenUser
from todochat.users.store import KnownUsers

router = APIRouter()


# ChatKit's requests and events are ChatKit's protocol, defined by its SDK: none of this API's
# OpenAPI document, which could not promise that a request valid in form is answered.
@router.post("/chatkit", response_class=Response, include_in_schema=False)
async def chatkit(request: Request, user: TokenUser) -> Response:
    """One ChatKit request on the user's conversations (threads) and their messages (items)."""
    # ChatKit brings the Agents SDK, seconds to import: only a process that serves it pays.
    from todochat.integrations.chatkit.server import serve, server_for  # noqa: PLC0415

    known: KnownUsers = request.app.state.known_users
    await known.ensure(user)
    return await serve(server_for(request.app.state), await request.body(), user)
