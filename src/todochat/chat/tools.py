"""The five task tools, defined once for MCP and the agents, acting for one bound user."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from todochat.errors import Invalid, NotFound
from todochat.tasks.models import (
    Description,
    Status,
    Task,
    TaskCreate,
    TaskQuery,
    TaskUpdate,
    TaskView,
    Title,
)
from todochat.tasks.store import TaskStore
from todochat.validation import StrictNumber, invalid

TaskNumber = Annotated[StrictNumber, Field(description="The task's number")]
UserId = Annotated[
    str | None,
    Field(description="Accepted for compatibility; must be the signed-in user if given"),
]
LIST_LIMIT = 200


class ToolError(Exception):
    """A tool call that failed; the message is a sentence an assistant can repeat to a person."""


class ToolArguments(BaseModel):
    """Arguments every tool takes."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId = None


class AddTask(ToolArguments):
    """Create a new task."""

    title: Title
    description: Description | None = None


class ListTasks(ToolArguments):
    """List tasks: all of them, only pending ones, or only completed ones."""

    # A literal, not the Status enum, so the schema carries the choices inline (no $defs).
    status: Literal["all", "pending", "completed"] = "all"


class CompleteTask(ToolArguments):
    """Mark a task as complete."""

    task_id: TaskNumber


class DeleteTask(ToolArguments):
    """Delete a task."""

    task_id: TaskNumber


class UpdateTask(ToolArguments):
    """Change a task's title or description."""

    task_id: TaskNumber
    title: Title | None = None
    description: Description | None = None


JsonResult = dict[str, Any] | list[dict[str, Any]]


def _confirm(task: Task | TaskView, status: str) -> dict[str, Any]:
    return {"task_id": task.id, "status": status, "title": task.title}


async def _add(tasks: TaskStore, args: AddTask) -> JsonResult:
    task = await tasks.create(TaskCreate(title=args.title, description=args.description))
    return _confirm(task, "created")


async def _list(tasks: TaskStore, args: ListTasks) -> JsonResult:
    found = await tasks.list(TaskQuery(status=Status(args.status), limit=LIST_LIMIT))
    return [{"id": t.id, "title": t.title, "completed": t.completed} for t in found]


async def _complete(tasks: TaskStore, args: CompleteTask) -> JsonResult:
    return _confirm(await tasks.complete(args.task_id), "completed")


async def _delete(tasks: TaskStore, args: DeleteTask) -> JsonResult:
    return _confirm(await tasks.delete(args.task_id), "deleted")


async def _update(tasks: TaskStore, args: UpdateTask) -> JsonResult:
    changes = TaskUpdate.model_validate(
        args.model_dump(include={"title", "description"}, exclude_none=True)
    )
    if not changes.model_fields_set:
        raise ToolError("Tell me the new title or description for the task.")
    return _confirm(await tasks.update(args.task_id, changes), "updated")


@dataclass(frozen=True)
class Tool:
    """One tool: its name, what it is for, its arguments and what it does."""

    name: str
    description: str
    arguments: type[ToolArguments]
    run: Callable[[TaskStore, Any], Awaitable[JsonResult]]

    def schema(self, *, with_user_id: bool = True) -> dict[str, Any]:
        """The JSON schema of the arguments; a model that acts for a bound user needs no user_id."""
        schema = self.arguments.model_json_schema()
        if not with_user_id:
            schema["properties"].pop("user_id")
        return schema


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("add_task", "Create a new task for the user.", AddTask, _add),
        Tool(
            "list_tasks",
            "List the user's tasks: status 'all' (default), 'pending' or 'completed'.",
            ListTasks,
            _list,
        ),
        Tool("complete_task", "Mark one of the user's tasks as complete.", CompleteTask, _complete),
        Tool("delete_task", "Delete one of the user's tasks.", DeleteTask, _delete),
        Tool(
            "update_task",
            "Change the title or description of one of the user's tasks.",
            UpdateTask,
            _update,
        ),
    )
}


@dataclass
class ToolCall:
    """A call made during a turn, with what it returned or why it failed."""

    tool: str
    arguments: dict[str, Any]
    result: JsonResult | None = None
    error: str | None = None


@dataclass
class TaskTools:
    """The tools bound to one user's task store, remembering every call made through them."""

    tasks: TaskStore
    calls: list[ToolCall] = field(default_factory=list)

    async def call(self, name: str, arguments: Mapping[str, Any]) -> JsonResult:
        """Run tool `name`; a failure raises `ToolError` with a sentence for the person."""
        record = ToolCall(tool=name, arguments=dict(arguments))
        self.calls.append(record)
        try:
            record.result = await self._run(name, arguments)
        except ToolError as error:
            record.error = str(error)
            raise
        return record.result

    async def _run(self, name: str, arguments: Mapping[str, Any]) -> JsonResult:
        tool = TOOLS.get(name)
        if tool is None:
            raise ToolError(f"There is no tool called {name!r}.")
        try:
            args = tool.arguments.model_validate(arguments)
        except ValidationError as error:
            raise ToolError(f"I couldn't do that: {invalid(error)}.") from None
        if args.user_id is not None and args.user_id != self.tasks.user_id:
            raise ToolError("I can only act on the signed-in user's own tasks.")
        try:
            return await tool.run(self.tasks, args)
        except NotFound as error:
            raise ToolError(f"Task {error.key} was not found.") from None
        except Invalid as error:
            raise ToolError(f"I couldn't do that: {error}.") from None
