"""The base of the per-domain stores."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.db.acting import acting_user


class Store:
    """Base of the per-domain stores: bound to one session and the one user it acts for."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        if acting_user(session) != user_id:
            raise ValueError(f"the session does not act for user {user_id!r}; open it with act_for")
        self.session = session
        self.user_id = user_id

    def insert(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        """An INSERT into `table` in the session's dialect, which can say ON CONFLICT."""
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
