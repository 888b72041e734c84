"""What every `/api/{user_id}/…` route depends on: the verified user and the way to their data."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.db import Database
from todochat.errors import Forbidden
from todochat.ratelimit import RateLimits
from todochat.users.auth import Authenticator, Identity, bearer_token
from todochat.users.store import KnownUsers
from todochat.validation import MAX_NUMBER, MAX_USER_ID_CHARS, Text

UserIdPath = Annotated[
    Text, Path(min_length=1, max_length=MAX_USER_ID_CHARS, description="The user's id")
]
Number = Annotated[int, Path(ge=1, le=MAX_NUMBER)]
StoreT = TypeVar("StoreT")
USER_PATHS = "/api/{user_id}/"
BEARER_SCHEME = "HTTPBearer"


# The token is read here rather than by FastAPI's HTTPBearer dependency: FastAPI spends more
# time resolving a dependency than most take to run (see `user_access`). `documented` says in
# the OpenAPI document what such a dependency would have said.
async def token_user(request: Request) -> Identity:
    """The user the bearer token proves."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.verify(bearer_token(request.headers.get("authorization", "")))


TokenUser = Annotated[Identity, Depends(token_user)]


def _the_path_user(user_id: str, identity: Identity) -> Identity:
    if identity.user_id != user_id:
        raise Forbidden("the token is for another user than the path names")
    return identity


async def authenticated(user_id: UserIdPath, identity: TokenUser) -> Identity:
    """The path's user, once their bearer token proves it."""
    return _the_path_user(user_id, identity)


CurrentUser = Annotated[Identity, Depends(authenticated)]


class UserAccess:
    """The path's user, proven by their bearer token and stored: the way into their data.

    A route opens its user's stores in a block that ends before it answers, so that a write's
    transaction has committed before a client is told it succeeded.
    """

    __slots__ = ("_rate_limits", "database", "user_id")

    def __init__(self, user_id: str, database: Database, rate_limits: RateLimits) -> None:
        self.user_id = user_id
        self.database = database
        self._rate_limits = rate_limits

    @asynccontextmanager
    async def reading(self, kind: Callable[[AsyncSession, str], StoreT]) -> AsyncIterator[StoreT]:
        """The user's `kind` store in a session that reads only."""
        async with self.database.read(self.user_id) as session:
            yield kind(session, self.user_id)

    @asynccontextmanager
    async def writing(self, kind: Callable[[AsyncSession, str], StoreT]) -> AsyncIterator[StoreT]:
        """The user's `kind` store in one transaction, from the user's budget of writes:
        committed if the block succeeds."""
        await self._rate_limits.spend("writes", self.user_id)
        async with self.database.transaction(self.user_id) as session:
            yield kind(session, self.user_id)


# One dependency, taking the path and the token itself rather than through others: FastAPI
# spends more time resolving each dependency than most take to run, and a generator (one
# holding the session open around the route) more than a coroutine. Dependencies are
# coroutines: FastAPI runs a plain function in its thread pool, a hop that costs more still.
async def user_access(request: Request, user_id: UserIdPath) -> UserAccess:
    """The path's user, once their bearer token proves it (stored on first sight)."""
    user = _the_path_user(user_id, await token_user(request))
    state = request.app.state
    known: KnownUsers = state.known_users
    await known.ensure(user)
    return UserAccess(user.user_id, state.database, state.rate_limits)


Access = Annotated[UserAccess, Depends(user_access)]


def documented(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, the OpenAPI document, saying that every route under `/api/{user_id}` takes the
    user's bearer token (which `token_user` reads)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A JWT whose `sub` is the user in the path",
    }
    for path, operations in schema["paths"].items():
        if path.startswith(USER_PATHS):
            for operation in operations.values():
                operation["security"] = [{BEARER_SCHEME: []}]
    return schema
