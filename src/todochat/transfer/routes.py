"""HTTP endpoint that streams a user's export file to its owner."""

from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from todochat.api import Access
from todochat.problems import ERROR_RESPONSES
from todochat.routing import PlannedRoute
from todochat.transfer.export import export_pages
from todochat.transfer.format import MEDIA_TYPE

router = APIRouter(
    prefix="/api/{user_id}", tags=["export"], responses=ERROR_RESPONSES, route_class=PlannedRoute
)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The export file"}},
)
async def export(access: Access) -> StreamingResponse:
    """All of the user's data as JSON Lines, the file `todochat import` loads."""
    pages = export_pages(access.database, access.user_id)
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
