"""The base of the per-domain stores, and the one rule for what they return."""

from typing import Any, NamedTuple, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.db.acting import acting_user

View = TypeVar("View", bound=NamedTuple)


def view(kind: type[View], row: object) -> View:
    """The `kind` view of an ORM object (or any row): its fields, read now, once."""
    return kind._make(getattr(row, field) for field in kind._fields)


class Store:
    """Base of the per-domain stores: bound to one session and the one user it acts for.

    Stores return views, never ORM objects: named tuples (`TaskView`, `ConversationView`,
    `MessageView`, `UserView`, …), pages and rows of them, read once. What a caller holds is
    detached from the session: it cannot load lazily after the transaction, and changing it
    writes nothing. The compiled read paths make views straight from the driver's rows;
    writes that go through the ORM hand back `view(Kind, obj)`.
    """

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
