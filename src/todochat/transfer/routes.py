"""HTTP endpoint that streams a user's export file to its owner."""

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from todochat.api import CurrentUser, DatabaseDep
from todochat.problems import ERROR_RESPONSES
from todochat.transfer.export import export_pages
from todochat.transfer.format import MEDIA_TYPE
from todochat.users.store import KnownUsers

router = APIRouter(prefix="/api/{user_id}", tags=["export"], responses=ERROR_RESPONSES)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The export file"}},
)
async def export(request: Request, user: CurrentUser, database: DatabaseDep) -> StreamingResponse:
    """All of the user's data as JSON Lines, the file `todochat import` loads."""
    known: KnownUsers = request.app.state.known_users
    await known.ensure(user)
    pages = export_pages(database, user.user_id)
    first = await anext(pages)  # before the response starts, so that errors get their status

    async def body() -> AsyncIterator[str]:
        yield "".join(first)
        async for page in pages:
            yield "".join(page)

    filename = "todochat-export.jsonl"
    return StreamingResponse(
        body(),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
