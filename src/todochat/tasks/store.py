"""The task store: the only code that writes SQL for the `tasks` table."""

import functools
from typing import Any, NamedTuple

from sqlalchemy import Select, SQLColumnExpression, String, bindparam, case, select

from todochat.db import CompiledRead, Store, view
from todochat.errors import NotFound
from todochat.orm import json_array_contains, table, utcnow
from todochat.tasks.models import (
    Order,
    Priority,
    SortKey,
    Status,
    Task,
    TaskCreate,
    TaskQuery,
    TaskUpdate,
    TaskView,
)
from todochat.users.models import User
from todochat.users.store import NumberedInsert

PRIORITY_RANK = case(
    {priority.value: rank for rank, priority in enumerate(Priority)}, value=Task.priority
)
SORT_COLUMNS: dict[SortKey, SQLColumnExpression[Any]] = {
    SortKey.ID: Task.id,
    SortKey.CREATED_AT: Task.created_at,
    SortKey.UPDATED_AT: Task.updated_at,
    SortKey.PRIORITY: PRIORITY_RANK,
    SortKey.TITLE: Task.title,
}


_LIKE_ESCAPE = "/"


class _Shape(NamedTuple):
    """Which filters a listing applies, and its order: what its SQL depends on."""

    status: Status
    by_priority: bool
    by_tag: bool
    by_search: bool
    sort: SortKey
    order: Order


@functools.cache
def _listing(shape: _Shape) -> CompiledRead:
    """The listing statement for one shape, built and compiled once."""
    statement = select(*(getattr(Task, field) for field in TaskView._fields)).where(
        Task.user_id == bindparam("user_id")
    )
    if shape.status is not Status.ALL:
        statement = statement.where(Task.completed == (shape.status is Status.COMPLETED))
    if shape.by_priority:
        priority = bindparam("priority", type_=Task.priority.type)
        statement = statement.where(Task.priority == priority)
    if shape.by_tag:
        statement = statement.where(json_array_contains(Task.tags, bindparam("tag")))
    if shape.by_search:
        search = bindparam("search", type_=String())
        statement = statement.where(Task.title.icontains(search, escape=_LIKE_ESCAPE))
    keys = [SORT_COLUMNS[shape.sort]]
    if shape.sort is not SortKey.ID:
        keys.append(Task.id)  # ties in number order
    descending = shape.order is Order.DESC
    statement = statement.order_by(*(key.desc() if descending else key.asc() for key in keys))
    return CompiledRead(statement.limit(bindparam("limit")).offset(bindparam("offset")))


_INSERT = NumberedInsert(User.last_task_id, table(Task), TaskView._fields[1:])


def listing(query: TaskQuery) -> CompiledRead:
    """The statement that lists the tasks `query` asks for, compiled once per shape."""
    return _listing(
        _Shape(
            query.status,
            query.priority is not None,
            query.tag is not None,
            query.search is not None,
            query.sort,
            query.order,
        )
    )


def _escape_like(text: str) -> str:
    for special in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, _LIKE_ESCAPE + special)
    return text


class TaskStore(Store):
    """One user's tasks."""

    def _tasks(self) -> Select[Task]:
        return select(Task).where(Task.user_id == self.user_id)

    async def create(self, data: TaskCreate) -> TaskView:
        """Add a task under the user's next task number."""
        now = utcnow()
        values: dict[str, Any] = {
            "title": data.title,
            "description": data.description,
            "completed": False,
            "priority": data.priority,
            "tags": data.tags,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        return TaskView(id=await _INSERT.insert(self.session, self.user_id, **values), **values)

    async def get(self, task_id: int) -> TaskView:
        """The task with this number."""
        return view(TaskView, await self._task(task_id))

    async def _task(self, task_id: int) -> Task:
        task = await self.session.scalar(self._tasks().where(Task.id == task_id))
        if task is None:
            raise NotFound("task", task_id)
        return task

    async def list(self, query: TaskQuery | None = None) -> list[TaskView]:
        """The tasks that match `query`, one page of them."""
        query = query or TaskQuery()
        filters = {
            name: value
            for name, value in (
                ("priority", query.priority),
                ("tag", query.tag),
                ("search", None if query.search is None else _escape_like(query.search)),
            )
            if value is not None
        }
        rows = await listing(query).rows(
            self.session,
            user_id=self.user_id,
            limit=query.limit,
            offset=query.offset,
            **filters,
        )
        return [TaskView._make(row) for row in rows]

    async def update(self, task_id: int, changes: TaskUpdate) -> TaskView:
        """Change the fields given; completing sets `completed_at`, reopening clears it."""
        task = await self._task(task_id)
        values = changes.model_dump(exclude_unset=True)
        if "completed" in values and values["completed"] != task.completed:
            task.completed_at = utcnow() if values["completed"] else None
        for field, value in values.items():
            setattr(task, field, value)
        if values:
            task.updated_at = utcnow()
        await self.session.flush()
        return view(TaskView, task)

    async def complete(self, task_id: int) -> TaskView:
        """Mark the task done."""
        return await self.update(task_id, TaskUpdate(completed=True))

    async def reopen(self, task_id: int) -> TaskView:
        """Mark the task not done."""
        return await self.update(task_id, TaskUpdate(completed=False))

    async def delete(self, task_id: int) -> TaskView:
        """Delete the task for good; its number is never handed out again."""
        task = await self._task(task_id)
        deleted = view(TaskView, task)
        await self.session.delete(task)
        await self.session.flush()
        return deleted
