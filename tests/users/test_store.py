import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_user
from todochat.errors import Invalid, NotFound
from todochat.users.models import UserProfile
from todochat.users.store import UserStore
from todochat.validation import parse


async def test_ensure_creates_a_user_once_and_refreshes_the_profile(session: AsyncSession) -> None:
    user_id = await new_user(session)
    users = UserStore(session, user_id)
    first = await users.ensure(UserProfile(email="a@example.com", name="Ann"))
    created, updated = first.created_at, first.updated_at
    same = await users.ensure(UserProfile(email="a@example.com"))
    assert (same.email, same.name, same.updated_at) == ("a@example.com", "Ann", updated)
    renamed = await users.ensure(UserProfile(name="Anne"))
    assert (renamed.email, renamed.name, renamed.created_at) == ("a@example.com", "Anne", created)
    assert renamed.updated_at > updated


async def test_a_deleted_user_is_not_found(session: AsyncSession) -> None:
    users = UserStore(session, await new_user(session))
    await users.delete()
    with pytest.raises(NotFound):
        await users.get()
    with pytest.raises(NotFound):
        await users.delete()


def test_a_profile_with_nul_bytes_is_invalid() -> None:
    with pytest.raises(Invalid, match="name"):
        parse(UserProfile, {"name": "Ann\x00"})
