"""The user store: the only code that writes SQL for the `users` table."""

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from todochat.db import CompiledWrite, Database, Store, view
from todochat.errors import NotFound
from todochat.orm import table, utcnow
from todochat.users.auth import Identity
from todochat.users.models import User, UserProfile, UserView


def _next(counter: InstrumentedAttribute[int]) -> Any:
    """The UPDATE taking the acting user's next number from `counter`."""
    return (
        update(table(User))
        .where(table(User).c.id == bindparam("user_id"))
        .values({counter.key: counter + 1})
    )


_NEXT = {
    counter.key: CompiledWrite(_next(counter).returning(counter))
    for counter in (User.last_task_id, User.last_conversation_id)
}


class NumberedInsert:
    """An INSERT of one row of `table` numbered (its `id`) by the user's `counter`.

    On PostgreSQL the number is taken in the INSERT's WITH clause: one statement, one round
    trip. Elsewhere it is taken by a statement of its own.
    """

    def __init__(
        self, counter: InstrumentedAttribute[int], into: Table, columns: Sequence[str]
    ) -> None:
        """`columns`: those the caller gives, besides `user_id` and `id`."""
        self.counter = counter
        self._separately = CompiledWrite(insert(into), columns=("user_id", "id", *columns))
        users = table(User).c
        taken = (
            _next(counter).returning(users.id.label("user_id"), counter.label("id")).cte("taken")
        )
        given = [bindparam(name, type_=into.c[name].type) for name in columns]
        self.at_once = CompiledWrite(
            insert(into)
            .from_select(["user_id", "id", *columns], select(taken.c.user_id, taken.c.id, *given))
            .returning(into.c.id)
        )

    async def insert(self, session: AsyncSession, user_id: str, **values: Any) -> int:
        """Insert the row with `values`; the number it got."""
        if session.get_bind().dialect.name != "postgresql":
            number = await UserStore(session, user_id).next_number(self.counter)
            await self._separately.execute(session, user_id=user_id, id=number, **values)
            return number
        taken = await self.at_once.returning(session, user_id=user_id, **values)
        if not taken:
            raise NotFound("user", user_id)
        return int(taken[0][0])


class UserStore(Store):
    """The acting user's own row, including the counters that number their tasks and chats."""

    async def next_number(self, counter: InstrumentedAttribute[int]) -> int:
        """Take the next number from `counter` (`User.last_task_id` or `last_conversation_id`).

        The row lock this UPDATE takes serialises concurrent creators; a rollback returns the
        number, so races leave neither duplicates nor gaps.
        """
        taken = await _NEXT[counter.key].returning(self.session, user_id=self.user_id)
        if not taken:
            raise NotFound("user", self.user_id)
        return int(taken[0][0])

    async def ensure(self, profile: UserProfile | None = None) -> UserView:
        """Create the user on first sight; refresh the email and name a token carries."""
        profile = profile or UserProfile()
        now = utcnow()
        statement = self.insert(User).values(
            id=self.user_id, email=profile.email, name=profile.name, created_at=now, updated_at=now
        )
        given = [column for column in ("email", "name") if getattr(profile, column) is not None]
        if given:
            columns = table(User).c
            statement = statement.on_conflict_do_update(
                index_elements=[User.id],
                set_={
                    **{column: statement.excluded[column] for column in given},
                    "updated_at": now,
                },
                where=or_(
                    *(
                        columns[column].is_distinct_from(statement.excluded[column])
                        for column in given
                    )
                ),
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=[User.id])
        await self.session.execute(statement)
        return await self.get()

    async def get(self) -> UserView:
        """The user's row."""
        user = await self.session.scalar(
            select(User).where(User.id == self.user_id).execution_options(populate_existing=True)
        )
        if user is None:
            raise NotFound("user", self.user_id)
        return view(UserView, user)

    async def delete(self) -> None:
        """Delete the user; the database removes their tasks, conversations and messages."""
        result = await self.session.execute(delete(User).where(User.id == self.user_id))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("user", self.user_id)


class KnownUsers:
    """Users this process has already stored, with the profile their token carried.

    Every authenticated request needs its user to exist; remembering who does spares a
    write on all requests but a user's first (and those after their profile changes).
    """

    def __init__(self, database: Database, capacity: int = 10_000) -> None:
        self.database = database
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str | None, str | None], None] = OrderedDict()

    async def ensure(self, identity: Identity) -> None:
        """Store the user, unless this process already did with this profile."""
        key = (identity.user_id, identity.profile.email, identity.profile.name)
        if key in self._seen:
            self._seen.move_to_end(key)
            return
        async with self.database.transaction(identity.user_id) as session:
            await UserStore(session, identity.user_id).ensure(identity.profile)
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
