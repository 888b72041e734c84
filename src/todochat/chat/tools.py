"""The five task tools, defined once for MCP and the agents, acting for one bound user."""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from todochat.chat.models import ToolCallPublic
from todochat.conversations.models import MessageCreate, MessageView, Role
from todochat.conversations.store import MessageStore
from todochat.db import Database
from todochat.errors import DatabaseUnavailable, Invalid, NotFound, ToolError
from todochat.tasks.models import (
    MAX_PAGE,
    Description,
    Status,
    TaskCreate,
    TaskQuery,
    TaskUpdate,
    TaskView,
    Title,
)
from todochat.tasks.store import TaskStore
from todochat.validation import JsonObject, StrictNumber, invalid

TaskNumber = Annotated[StrictNumber, Field(description="The task's number")]
ClaimedUserId = Annotated[
    str | None,
    Field(description="Accepted for compatibility; must be the signed-in user if given"),
]
UNREACHABLE = "The task list cannot be reached right now: try again in {seconds} seconds."
_STORABLE = TypeAdapter(JsonObject)


class ToolArguments(BaseModel):
    """Arguments every tool takes."""

    model_config = ConfigDict(extra="forbid")

    user_id: ClaimedUserId = None


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


def _confirm(task: TaskView, status: str) -> dict[str, Any]:
    return {"task_id": task.id, "status": status, "title": task.title}


async def _add(tasks: TaskStore, args: AddTask) -> JsonResult:
    task = await tasks.create(TaskCreate(title=args.title, description=args.description))
    return _confirm(task, "created")


async def _list(tasks: TaskStore, args: ListTasks) -> JsonResult:
    found = await tasks.list(TaskQuery(status=Status(args.status), limit=MAX_PAGE))
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
    seq: int | None = None  # its `tool` message's, once recorded in a conversation

    @property
    def outcome(self) -> Any:
        """The result, or `{"error": …}` for a call that failed."""
        return {"error": self.error} if self.error is not None else self.result

    def output(self) -> str:
        """The outcome as text, as a model and an MCP client read it."""
        if self.error is not None:
            return f"Error: {self.error}"
        return json.dumps(self.result, ensure_ascii=False)

    def public(self) -> ToolCallPublic:
        """The call as the chat endpoint answers it."""
        return ToolCallPublic(tool=self.tool, arguments=self.arguments, result=self.outcome)

    def message(self) -> MessageCreate:
        """The durable record of the call: a `tool` message in its conversation."""
        ending = {"error": self.error} if self.error is not None else {"result": self.result}
        return MessageCreate(
            role=Role.TOOL,
            content=self.output(),
            tool_calls=[{"tool": self.tool, "arguments": self.arguments}],
            tool_results=[{"tool": self.tool, **ending}],
        )

    @classmethod
    def recorded(cls, message: MessageView) -> "ToolCall | None":
        """The call a `tool` message records; None for any other message."""
        if message.role is not Role.TOOL or not message.tool_calls or not message.tool_results:
            return None
        call, ending = message.tool_calls[0], message.tool_results[0]
        return cls(
            call["tool"], call["arguments"], ending.get("result"), ending.get("error"), message.seq
        )


class TaskTools:
    """The tools acting for one user, each call in a transaction of its own.

    In a conversation, a call's record is written in the same transaction as the change it
    made: a crash at any moment leaves both or neither. Nothing is held between calls.
    """

    def __init__(
        self,
        database: Database,
        user_id: str,
        *,
        conversation_id: int | None = None,
        on_call: Callable[[ToolCall], None] | None = None,
    ) -> None:
        self.user_id = user_id
        self.calls: list[ToolCall] = []
        self._database = database
        self._conversation_id = conversation_id
        self._on_call = on_call

    async def call(self, name: str, arguments: Mapping[str, Any] | str) -> JsonResult:
        """Run tool `name` on its arguments (or on the JSON text of them a model wrote).

        A failure raises `ToolError` with a sentence for the person; either way the call is
        recorded in `calls`.
        """
        record = ToolCall(tool=name, arguments={})
        try:
            record.arguments = _arguments(arguments)
            tool, args = self._parse(name, record.arguments)
            async with self._database.transaction(self.user_id) as session:
                record.result = await self._run(tool, args, TaskStore(session, self.user_id))
                await self._record(session, record)
        except ToolError as error:
            record.error = str(error)
            async with self._database.transaction(self.user_id) as session:
                await self._record(session, record)
            raise
        except DatabaseUnavailable as down:
            # Nothing was written, and the call cannot be recorded either: the assistant
            # tells the person, as of any other failed call.
            record.error = UNREACHABLE.format(seconds=down.retry_after)
            raise ToolError(record.error) from down
        finally:
            self.calls.append(record)
            if self._on_call is not None:
                self._on_call(record)
        return record.result

    async def _record(self, session: AsyncSession, record: ToolCall) -> None:
        if self._conversation_id is not None:
            [stored] = await MessageStore(session, self.user_id).append(
                self._conversation_id, [record.message()]
            )
            record.seq = stored.seq

    def _parse(self, name: str, arguments: Mapping[str, Any]) -> tuple[Tool, ToolArguments]:
        tool = TOOLS.get(name)
        if tool is None:
            raise ToolError(f"There is no tool called {name!r}.")
        try:
            args = tool.arguments.model_validate(arguments)
        except ValidationError as error:
            raise ToolError(f"I couldn't do that: {invalid(error)}.") from None
        if args.user_id is not None and args.user_id != self.user_id:
            raise ToolError("I can only act on the signed-in user's own tasks.")
        return tool, args

    async def _run(self, tool: Tool, args: ToolArguments, tasks: TaskStore) -> JsonResult:
        try:
            return await tool.run(tasks, args)
        except NotFound as error:
            raise ToolError(f"Task {error.key} was not found.") from None
        except Invalid as error:
            raise ToolError(f"I couldn't do that: {error}.") from None


def _arguments(arguments: Mapping[str, Any] | str) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(dict(arguments))
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ToolError("I couldn't do that: the arguments were not a JSON object.")
    try:  # the call's record must be storable, whatever a model wrote
        _STORABLE.validate_python(parsed)
    except ValidationError as error:
        raise ToolError(f"I couldn't do that: {invalid(error)}.") from None
    return parsed
