"""HTTP endpoints for a user's tasks."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from todochat.api import Access, Number
from todochat.problems import ERROR_RESPONSES
from todochat.routing import PlannedRoute
from todochat.tasks.models import TaskCreate, TaskPublic, TaskQuery, TaskUpdate
from todochat.tasks.store import TaskStore
from todochat.views import Public, json_response

router = APIRouter(
    prefix="/api/{user_id}/tasks",
    tags=["tasks"],
    responses=ERROR_RESPONSES,
    route_class=PlannedRoute,
)
PUBLIC = Public(TaskPublic)


@router.get("", response_model=list[TaskPublic])
async def list_tasks(access: Access, query: Annotated[TaskQuery, Query()]) -> Response:
    """The user's tasks: filtered by status, priority, tag or title, sorted, one page."""
    async with access.reading(TaskStore) as tasks:
        found = await tasks.list(query)
    return json_response(PUBLIC.all(found))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskPublic)
async def create_task(access: Access, data: TaskCreate) -> Response:
    """Add a task under the user's next task number."""
    async with access.writing(TaskStore) as tasks:
        task = await tasks.create(data)
    return json_response(PUBLIC.of(task), status.HTTP_201_CREATED)


@router.get("/{task_id}")
async def get_task(access: Access, task_id: Number) -> TaskPublic:
    """One task."""
    async with access.reading(TaskStore) as tasks:
        return TaskPublic.model_validate(await tasks.get(task_id))


@router.put("/{task_id}")
async def replace_task(access: Access, task_id: Number, data: TaskCreate) -> TaskPublic:
    """Replace the task's fields; those left out go back to their defaults."""
    changes = TaskUpdate.model_validate(data.model_dump())
    async with access.writing(TaskStore) as tasks:
        return TaskPublic.model_validate(await tasks.update(task_id, changes))


@router.patch("/{task_id}")
async def update_task(access: Access, task_id: Number, changes: TaskUpdate) -> TaskPublic:
    """Change only the fields given."""
    async with access.writing(TaskStore) as tasks:
        return TaskPublic.model_validate(await tasks.update(task_id, changes))


@router.patch("/{task_id}/complete")
async def complete_task(access: Access, task_id: Number) -> TaskPublic:
    """Mark the task done."""
    async with access.writing(TaskStore) as tasks:
        return TaskPublic.model_validate(await tasks.complete(task_id))


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(access: Access, task_id: Number) -> None:
    """Delete the task; its number is never reused."""
    async with access.writing(TaskStore) as tasks:
        await tasks.delete(task_id)
