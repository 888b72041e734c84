"""What every `/api/{user_id}/…` route depends on: the verified user and their transaction."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.db import Database
from todochat.errors import Forbidden, Unauthenticated
from todochat.ratelimit import RateLimits
from todochat.users.auth import Authenticator, Identity
from todochat.users.store import KnownUsers
from todochat.validation import MAX_NUMBER, MAX_USER_ID_CHARS, Text

UserIdPath = Annotated[
    Text, Path(min_length=1, max_length=MAX_USER_ID_CHARS, description="The user's id")
]
Number = Annotated[int, Path(ge=1, le=MAX_NUMBER)]
StoreT = TypeVar("StoreT")
_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user in the path")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def token_user(request: Request, credentials: Bearer) -> Identity:
    """The user the bearer token proves."""
    if credentials is None:
        raise Unauthenticated("send Authorization: Bearer <token>", token_given=False)
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.verify(credentials.credentials)


TokenUser = Annotated[Identity, Depends(token_user)]


def _the_path_user(user_id: str, identity: Identity) -> Identity:
    if identity.user_id != user_id:
        raise Forbidden("the token is for another user than the path names")
    return identity


async def authenticated(user_id: UserIdPath, identity: TokenUser) -> Identity:
    """The path's user, once their bearer token proves it."""
    return _the_path_user(user_id, identity)


CurrentUser = Annotated[Identity, Depends(authenticated)]


def rate_limits(request: Request) -> RateLimits:
    """The application's per-user budgets."""
    limits: RateLimits = request.app.state.rate_limits
    return limits


# Dependencies are coroutines, even those that only look something up: FastAPI runs a plain
# function in its thread pool, and that hop costs more than such a dependency's work.
async def database(request: Request) -> Database:
    """The application's database."""
    db: Database = request.app.state.database
    return db


DatabaseDep = Annotated[Database, Depends(database)]


@asynccontextmanager
async def _user_session(
    request: Request, user_id: str, credentials: HTTPAuthorizationCredentials | None
) -> AsyncIterator[AsyncSession]:
    user = _the_path_user(user_id, await token_user(request, credentials))
    db: Database = request.app.state.database
    reading = request.method in ("GET", "HEAD")
    if not reading:
        await rate_limits(request).spend("writes", user.user_id)
    known: KnownUsers = request.app.state.known_users
    await known.ensure(user)
    scope = db.read if reading else db.transaction
    async with scope(user.user_id) as session:
        yield session


async def user_session(
    request: Request, user_id: UserIdPath, credentials: Bearer
) -> AsyncIterator[AsyncSession]:
    """The request's session for the path's user, once their bearer token proves it (stored
    on first sight).

    Reads (GET, HEAD) get a read session; everything else one transaction, from the user's
    budget of writes.
    """
    async with _user_session(request, user_id, credentials) as session:
        yield session


# "function" scope: the transaction commits before the response is sent, so a client never
# sees success for a write that did not land.
UserSession = Annotated[AsyncSession, Depends(user_session, scope="function")]


def user_store(kind: Callable[[AsyncSession, str], StoreT]) -> Any:
    """A dependency on the path user's `kind` store, in the request's `UserSession`.

    The route's one dependency: it takes the path and the token itself rather than through
    other dependencies, as FastAPI spends more time resolving each one than most take to run.
    """

    async def store(
        request: Request, user_id: UserIdPath, credentials: Bearer
    ) -> AsyncIterator[StoreT]:
        async with _user_session(request, user_id, credentials) as session:
            yield kind(session, user_id)

    return Depends(store, scope="function")
