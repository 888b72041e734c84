"""The user store: the only code that writes SQL for the `users` table."""

from collections import OrderedDict

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from todochat.db import CompiledWrite, Database, Store, view
from todochat.errors import NotFound
from todochat.orm import table, utcnow
from todochat.users.auth import Identity
from todochat.users.models import User, UserProfile, UserView

_NEXT = {
    counter.key: CompiledWrite(
        update(table(User))
        .where(table(User).c.id == bindparam("user_id"))
        .values({counter.key: counter + 1})
        .returning(counter)
    )
    for counter in (User.last_task_id, User.last_conversation_id)
}


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
