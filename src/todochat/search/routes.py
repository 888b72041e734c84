"""HTTP endpoint for searching a user's messages and tasks."""

from typing import Annotated

from fastapi import APIRouter, Query

from todochat.api import Access
from todochat.problems import ERROR_RESPONSES
from todochat.routing import PlannedRoute
from todochat.search.models import MAX_HITS, MAX_QUERY_CHARS, SearchHitPublic, SearchResults
from todochat.search.store import SearchStore
from todochat.validation import Text

router = APIRouter(
    prefix="/api/{user_id}", tags=["search"], responses=ERROR_RESPONSES, route_class=PlannedRoute
)


@router.get("/search")
async def search(
    access: Access,
    q: Annotated[
        Text,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description='Words, "quoted phrases", -excluded words, OR',
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_HITS)] = 20,
) -> SearchResults:
    """The user's messages and tasks that match `q`, best first, with marked snippets."""
    async with access.reading(SearchStore) as store:
        hits = await store.search(q, limit)
    return SearchResults(items=[SearchHitPublic(**hit._asdict()) for hit in hits])
