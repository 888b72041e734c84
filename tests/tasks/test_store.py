from datetime import UTC

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_user
from todochat.errors import Invalid, NotFound
from todochat.tasks.models import (
    Order,
    Priority,
    SortKey,
    Status,
    TaskCreate,
    TaskQuery,
    TaskUpdate,
)
from todochat.tasks.store import TaskStore
from todochat.validation import parse


async def tasks_of_new_user(session: AsyncSession) -> TaskStore:
    return TaskStore(session, await new_user(session))


async def test_tasks_are_numbered_from_one_per_user(session: AsyncSession) -> None:
    alice = await tasks_of_new_user(session)
    assert [(await alice.create(TaskCreate(title=t))).id for t in "abc"] == [1, 2, 3]
    bob = await tasks_of_new_user(session)
    assert (await bob.create(TaskCreate(title="first"))).id == 1


async def test_a_deleted_task_number_is_never_reused(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    await tasks.create(TaskCreate(title="one"))
    await tasks.create(TaskCreate(title="two"))
    await tasks.delete(2)
    assert (await tasks.create(TaskCreate(title="three"))).id == 3
    with pytest.raises(NotFound):
        await tasks.get(2)


async def test_create_trims_the_title_and_sets_defaults(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    task = await tasks.create(parse(TaskCreate, {"title": "  Buy groceries  "}))
    assert (task.title, task.description, task.completed, task.priority, task.tags) == (
        "Buy groceries",
        None,
        False,
        Priority.NONE,
        [],
    )
    assert task.completed_at is None
    assert task.created_at.tzinfo is UTC


async def test_complete_and_reopen_move_completed_at(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    created = await tasks.create(TaskCreate(title="Call mom"))
    created_at = created.updated_at
    done = await tasks.complete(1)
    assert done.completed
    assert done.completed_at is not None
    assert done.updated_at > created_at
    reopened = await tasks.reopen(1)
    assert not reopened.completed
    assert reopened.completed_at is None


async def test_update_changes_only_the_fields_given(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    await tasks.create(TaskCreate(title="Old", description="keep me", tags=["home"]))
    task = await tasks.update(1, parse(TaskUpdate, {"title": "New", "priority": "high"}))
    assert (task.title, task.description, task.priority, task.tags) == (
        "New",
        "keep me",
        Priority.HIGH,
        ["home"],
    )
    cleared = await tasks.update(1, parse(TaskUpdate, {"description": None}))
    assert cleared.description is None


def test_an_update_cannot_clear_a_required_field() -> None:
    with pytest.raises(Invalid, match="title cannot be null"):
        parse(TaskUpdate, {"title": None})


async def test_list_filters_by_status(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    for title in ("a", "b", "c", "d"):
        await tasks.create(TaskCreate(title=title))
    await tasks.complete(2)
    await tasks.complete(4)

    async def ids(status: Status) -> list[int]:
        return [task.id for task in await tasks.list(TaskQuery(status=status))]

    assert await ids(Status.ALL) == [1, 2, 3, 4]
    assert await ids(Status.PENDING) == [1, 3]
    assert await ids(Status.COMPLETED) == [2, 4]


async def test_list_filters_by_priority_tag_and_title_search(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    await tasks.create(TaskCreate(title="Buy groceries", priority=Priority.HIGH, tags=["home"]))
    await tasks.create(TaskCreate(title="Pay bills", tags=["home", "money"]))
    await tasks.create(TaskCreate(title="100% done_ish", tags=["work"]))

    async def ids(**query: object) -> list[int]:
        return [task.id for task in await tasks.list(parse(TaskQuery, query))]

    assert await ids(priority="high") == [1]
    assert await ids(tag="home") == [1, 2]
    assert await ids(tag="money") == [2]
    assert await ids(tag="hom") == []
    assert await ids(search="GROCER") == [1]
    assert await ids(search="%") == [3]
    assert await ids(search="_") == [3]
    assert await ids(search="bills", tag="home") == [2]


async def test_list_sorts_and_pages(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    for title, priority in [("b", "low"), ("a", "high"), ("c", "none"), ("d", "medium")]:
        await tasks.create(parse(TaskCreate, {"title": title, "priority": priority}))

    async def titles(**query: object) -> list[str]:
        return [task.title for task in await tasks.list(parse(TaskQuery, query))]

    assert await titles(sort="title") == ["a", "b", "c", "d"]
    assert await titles(sort="priority", order="desc") == ["a", "d", "b", "c"]
    assert await titles(sort="id", order="desc", limit=2) == ["d", "c"]
    assert await titles(sort="id", limit=2, offset=2) == ["c", "d"]
    assert await titles(limit=2, offset=4) == []
    assert TaskQuery().sort is SortKey.ID
    assert TaskQuery().order is Order.ASC


async def test_tags_are_trimmed_and_deduplicated(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    task = await tasks.create(parse(TaskCreate, {"title": "t", "tags": [" a ", "b", "a"]}))
    assert task.tags == ["a", "b"]


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"title": ""}, "title", "must not be blank"),
        ({"title": "   "}, "title", "must not be blank"),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"title": "nul\x00byte"}, "title", "NUL"),
        ({"title": "t", "description": "x" * 1001}, "description", "at most 1000 characters"),
        ({"title": "t", "priority": "urgent"}, "priority", "'none', 'low', 'medium' or 'high'"),
        ({"title": "t", "tags": [""]}, "tags.0", "must not be blank"),
        ({"title": "t", "tags": [str(n) for n in range(21)]}, "tags", "at most 20 items"),
        ({"title": 5}, "title", "valid string"),
        ({"title": "t", "owner": "bob"}, "owner", "Extra inputs"),
    ],
)
async def test_invalid_task_input_names_the_field_and_writes_nothing(
    session: AsyncSession, data: dict[str, object], field: str, rule: str
) -> None:
    tasks = await tasks_of_new_user(session)
    with pytest.raises(Invalid) as raised:
        await tasks.create(parse(TaskCreate, data))
    assert [error.field for error in raised.value.errors] == [field]
    assert rule in str(raised.value)
    assert await tasks.list() == []


async def test_a_200_character_title_with_emoji_round_trips(session: AsyncSession) -> None:
    tasks = await tasks_of_new_user(session)
    title = ("🛒 Buy groceries, 日本語, ümlaut, עברית " * 10)[:200].strip()
    await tasks.create(TaskCreate(title=title, description="👩‍👩‍👧 family \u200d", tags=["🏠"]))
    session.expunge_all()
    task = await tasks.get(1)
    assert (task.title, task.description, task.tags) == (title, "👩‍👩‍👧 family \u200d", ["🏠"])
    assert [t.id for t in await tasks.list(TaskQuery(tag="🏠", search="日本"))] == [1]


async def test_the_database_refuses_an_empty_title_written_around_the_store(
    session: AsyncSession,
) -> None:
    user_id = await new_user(session)
    with pytest.raises(IntegrityError, match="ck_tasks_title_length"):
        async with session.begin_nested():
            await session.execute(
                text("INSERT INTO tasks (user_id, id, title) VALUES (:user_id, 1, '')"),
                {"user_id": user_id},
            )
