"""HTTP endpoints for a user's tasks."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from todochat.api import Number, user_store
from todochat.problems import ERROR_RESPONSES
from todochat.tasks.models import TaskCreate, TaskPublic, TaskQuery, TaskUpdate
from todochat.tasks.store import TaskStore
from todochat.views import Public, json_response

router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], responses=ERROR_RESPONSES)
PUBLIC = Public(TaskPublic)

Tasks = Annotated[TaskStore, user_store(TaskStore)]


@router.get("", response_model=list[TaskPublic])
async def list_tasks(tasks: Tasks, query: Annotated[TaskQuery, Query()]) -> Response:
    """The user's tasks: filtered by status, priority, tag or title, sorted, one page."""
    return json_response(PUBLIC.all(await tasks.list(query)))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskPublic)
async def create_task(tasks: Tasks, data: TaskCreate) -> Response:
    """Add a task under the user's next task number."""
    return json_response(PUBLIC.of(await tasks.create(data)), status.HTTP_201_CREATED)


@router.get("/{task_id}")
async def get_task(tasks: Tasks, task_id: Number) -> TaskPublic:
    """One task."""
    return TaskPublic.model_validate(await tasks.get(task_id))


@router.put("/{task_id}")
async def replace_task(tasks: Tasks, task_id: Number, data: TaskCreate) -> TaskPublic:
    """Replace the task's fields; those left out go back to their defaults."""
    changes = TaskUpdate.model_validate(data.model_dump())
    return TaskPublic.model_validate(await tasks.update(task_id, changes))


@router.patch("/{task_id}")
async def update_task(tasks: Tasks, task_id: Number, changes: TaskUpdate) -> TaskPublic:
    """Change only the fields given."""
    return TaskPublic.model_validate(await tasks.update(task_id, changes))


@router.patch("/{task_id}/complete")
async def complete_task(tasks: Tasks, task_id: Number) -> TaskPublic:
    """Mark the task done."""
    return TaskPublic.model_validate(await tasks.complete(task_id))


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(tasks: Tasks, task_id: Number) -> None:
    """Delete the task; its number is never reused."""
    await tasks.delete(task_id)
