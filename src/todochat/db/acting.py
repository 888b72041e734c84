"""Whom a session acts for: the one user its stores may read and write for."""

from sqlalchemy.ext.asyncio import AsyncSession

from todochat.errors import Invalid
from todochat.validation import USER_ID_RULE, is_user_id

ACTING_USER = "todochat.user_id"


def act_for(session: AsyncSession, user_id: str) -> None:
    """Record in the session which user its work is for; stores refuse any other user."""
    if not is_user_id(user_id):
        raise Invalid.field("user_id", USER_ID_RULE)
    session.info[ACTING_USER] = user_id


def acting_user(session: AsyncSession) -> str | None:
    """The user the session's transaction acts for, if it was told."""
    user_id = session.info.get(ACTING_USER)
    return user_id if isinstance(user_id, str) else None
