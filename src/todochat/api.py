"""What every `/api/{user_id}/…` route depends on: the verified user and their transaction."""

from collections.abc import AsyncIterator
from typing import Annotated

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
_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user in the path")


async def token_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The user the bearer token proves."""
    if credentials is None:
        raise Unauthenticated("send Authorization: Bearer <token>", token_given=False)
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.verify(credentials.credentials)


TokenUser = Annotated[Identity, Depends(token_user)]


async def authenticated(user_id: UserIdPath, identity: TokenUser) -> Identity:
    """The path's user, once their bearer token proves it."""
    if identity.user_id != user_id:
        raise Forbidden("the token is for another user than the path names")
    return identity


CurrentUser = Annotated[Identity, Depends(authenticated)]


def rate_limits(request: Request) -> RateLimits:
    """The application's per-user budgets."""
    limits: RateLimits = request.app.state.rate_limits
    return limits


def database(request: Request) -> Database:
    """The application's database."""
    db: Database = request.app.state.database
    return db


DatabaseDep = Annotated[Database, Depends(database)]


async def user_session(
    request: Request, user: CurrentUser, db: DatabaseDep
) -> AsyncIterator[AsyncSession]:
    """The request's session for the authenticated user (stored on first sight).

    Reads (GET, HEAD) get a read session; everything else one transaction, from the user's
    budget of writes.
    """
    reading = request.method in ("GET", "HEAD")
    if not reading:
        await rate_limits(request).spend("writes", user.user_id)
    known: KnownUsers = request.app.state.known_users
    await known.ensure(user)
    scope = db.read if reading else db.transaction
    async with scope(user.user_id) as session:
        yield session


# "function" scope: the transaction commits before the response is sent, so a client never
# sees success for a write that did not land.
UserSession = Annotated[AsyncSession, Depends(user_session, scope="function")]
