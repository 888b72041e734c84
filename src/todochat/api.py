"""What every `/api/{user_id}/…` route depends on: the verified user and their transaction."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.db import Database
from todochat.problems import Forbidden
from todochat.users.auth import Authenticator, Unauthenticated
from todochat.users.store import UserStore

MAX_NUMBER = 2**31 - 1

UserIdPath = Annotated[str, Path(min_length=1, max_length=255, description="The user's id")]
Number = Annotated[int, Path(ge=1, le=MAX_NUMBER)]
_bearer = HTTPBearer(auto_error=False, description="A JWT whose `sub` is the user in the path")


async def user_session(
    request: Request,
    user_id: UserIdPath,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AsyncIterator[AsyncSession]:
    """The request's transaction, acting for the path's user once their token proves it."""
    if credentials is None:
        raise Unauthenticated("send Authorization: Bearer <token>")
    authenticator: Authenticator = request.app.state.authenticator
    identity = await authenticator.verify(credentials.credentials)
    if identity.user_id != user_id:
        raise Forbidden("the token is for another user than the path names")
    database: Database = request.app.state.database
    async with database.transaction(user_id) as session:
        await UserStore(session, user_id).ensure(identity.profile)
        yield session


# "function" scope: the transaction commits before the response is sent, so a client never
# sees success for a write that did not land.
UserSession = Annotated[AsyncSession, Depends(user_session, scope="function")]
