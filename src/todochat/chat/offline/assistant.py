"""The built-in assistant: holds a conversation about tasks with no model and no network."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from todochat.chat.assistant import Said
from todochat.chat.offline.grammar import (
    ON_A_TASK,
    Action,
    Intent,
    Nothing,
    Number,
    Place,
    Pronoun,
    Reference,
    Words,
    as_title,
    clean,
    reference,
    understand,
    unquote,
)
from todochat.chat.offline.matching import best
from todochat.chat.offline.memory import WHICH_ONE, WHICH_TASK, Change, Memory, Question, TaskState
from todochat.chat.tools import TaskTools
from todochat.errors import ToolError
from todochat.tasks.models import MAX_PAGE

HELP = (
    "I can add, list, complete, delete and update your tasks, and undo my last change. Try"
    ' "Add a task to buy groceries", "What\'s pending?", "Mark task 3 as complete" or'
    ' "Delete the meeting task".'
)
SORRY = f"Sorry, I didn't understand that. {HELP}"
NOTHING_TO_UNDO = "There's nothing for me to undo: I haven't changed any of your tasks lately."
MOST_OPTIONS = 10
TELL_ME = "Tell me its number or part of its title."


def _named(task: TaskState) -> str:
    return f'task {task.id} "{task.title}"' if task.title else f"task {task.id}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _which_one(options: Sequence[TaskState], preface: str = "") -> str:
    listed = ", ".join(f'{t.id} "{t.title}"' for t in options[:MOST_OPTIONS])
    more = f" (and {len(options) - MOST_OPTIONS} more)" if len(options) > MOST_OPTIONS else ""
    return f"{preface}{WHICH_ONE}: {listed}{more}? Tell me its number."


class OfflineAssistant:
    """Understands what people type about their tasks, and answers in a friendly sentence."""

    async def respond(
        self, history: Sequence[Said], message: str, tools: TaskTools, *, stream: bool
    ) -> AsyncIterator[str]:
        """The answer word by word, as a model would stream it (or whole)."""
        text = await self.answer(history, message, tools)
        for piece in re.findall(r"\S+\s*|\s+", text) if stream else [text]:
            yield piece

    async def close(self) -> None:
        """Nothing to release."""

    async def answer(self, history: Sequence[Said], message: str, tools: TaskTools) -> str:
        """Act on `message` through the tools; say what was done, or plainly what was not."""
        memory = Memory.of(history)
        intent = understand(message)
        reply = _Reply(memory, tools)
        try:
            if memory.question is not None and (intent is None or intent.action == "choose"):
                said = intent.parts["ref"] if intent is not None else clean(message)
                return await reply.settle(memory.question, said)
            if intent is None:
                return SORRY
            return await reply.handle(intent)
        except ToolError as error:
            return str(error)


class _Reply:
    """One answer: what the conversation so far tells, and the tools to act with."""

    def __init__(self, memory: Memory, tools: TaskTools) -> None:
        self.memory = memory
        self.tools = tools
        self.handlers: dict[Action, Callable[[Intent], Awaitable[str]]] = {
            "help": self.help,
            "thanks": self.thanks,
            "dismiss": self.dismiss,
            "undo": self.undo,
            "choose": self.choose,
            "list": self.listing,
            "add": self.add,
            **dict.fromkeys(ON_A_TASK, self.on_a_task),
        }

    async def handle(self, intent: Intent) -> str:
        """The answer to a message whose intent is known."""
        return await self.handlers[intent.action](intent)

    async def help(self, _: Intent) -> str:
        """What the assistant can do."""
        return f"Hi! {HELP}"

    async def thanks(self, _: Intent) -> str:
        """A welcome."""
        return "You're welcome! Anything else on your list?"

    async def dismiss(self, _: Intent) -> str:
        """Nothing done, as asked."""
        return "OK, I'll leave your tasks as they are."

    async def choose(self, intent: Intent) -> str:
        """A bare "2" or "the second one", with no question open."""
        named = reference(intent.parts["ref"])
        phrase = f"task {named.value}" if isinstance(named, Number) else intent.parts["ref"]
        return (
            f'What should I do with {phrase}? Say, for example, "complete {phrase}" or'
            f' "delete {phrase}".'
        )

    async def add(self, intent: Intent) -> str:
        """A new task with the title said."""
        result = await self._one("add_task", {"title": intent.parts["title"]})
        return f'Added task {result["task_id"]}: "{result["title"]}".'

    async def listing(self, intent: Intent) -> str:
        """The tasks asked for, one a line."""
        status = intent.parts["status"]
        tasks = await self._list(status)
        if not tasks:
            return {
                "pending": "You have no pending tasks. 🎉",
                "completed": "You haven't completed any tasks yet.",
            }.get(status, 'Your task list is empty. Add one with "Add a task to …".')
        count = len(tasks)
        heading = {
            "pending": f"You have {count} pending task{'s' * (count != 1)}:",
            "completed": f"You have completed {count} task{'s' * (count != 1)}:",
        }.get(status, f"You have {count} task{'s' * (count != 1)}:")
        lines = [
            f"{task.id}. {task.title}" + (" ✓" if status == "all" and task.completed else "")
            for task in tasks
        ]
        return "\n".join([heading, *lines])

    async def on_a_task(self, intent: Intent) -> str:
        """Find the task the message names, then act on it; or ask which one it means."""
        tasks = await self._list("all")
        found = self._pick(reference(intent.parts["ref"]), tasks, intent.action)
        return found if isinstance(found, str) else await self._act(intent, found, tasks)

    async def settle(self, question: Question, said: str) -> str:
        """Answer the open question with the task `said` picks, and do what was asked."""
        tasks = await self._list("all")
        latest = {task.id: task for task in tasks}
        options = tuple(latest.get(option.id, option) for option in question.options)
        found = self._pick(reference(said), tasks, question.intent.action, options)
        return found if isinstance(found, str) else await self._act(question.intent, found, tasks)

    def _pick(
        self,
        named: Reference,
        tasks: Sequence[TaskState],
        action: Action,
        options: Sequence[TaskState] = (),
    ) -> TaskState | str:
        """The task `named` refers to, or a sentence: a question, or why there is none."""
        latest = {task.id: task for task in tasks}

        def now(task_id: int) -> TaskState:
            return latest.get(task_id, TaskState(task_id))

        match named:
            case Number(value, explicit):
                by_number = [o for o in options if o.id == value]
                if by_number or explicit or not 1 <= value <= len(options):
                    return now(value)
                return now(options[value - 1].id)
            case Place(index):
                listed = options or self.memory.shown
                if not listed:
                    return (
                        f"I haven't shown you a list in this conversation. {WHICH_TASK} {TELL_ME}"
                    )
                if not -len(listed) <= index < len(listed):
                    size = f"{len(listed)} task{'s' * (len(listed) != 1)}"
                    return f"That list has {size}. {WHICH_TASK} {TELL_ME}"
                return now(listed[index].id)
            case Pronoun():
                if self.memory.focus is None:
                    return f"{WHICH_TASK} {TELL_ME}"
                return now(self.memory.focus.id)
            case Words(text):
                return _by_words(text, options or tasks, action, bool(options))
            case Nothing():
                return _which_one(options) if options else f"{WHICH_TASK} {TELL_ME}"

    async def _act(self, intent: Intent, task: TaskState, tasks: Sequence[TaskState]) -> str:
        """Do what `intent` asks to `task`, as it is now, and say so."""
        match intent.action:
            case "complete":
                if task.completed:
                    return f"{_capitalised(_named(task))} was already done."
                result = await self._one("complete_task", {"task_id": task.id})
                return f'Marked task {task.id} "{result["title"]}" as complete. Nice work!'
            case "reopen":
                if task.completed is False:
                    return f"{_capitalised(_named(task))} is already open."
                if task.completed is None and len(tasks) < MAX_PAGE:  # the list was whole
                    return f"Task {task.id} was not found."
                return self._cannot_reopen(task)
            case "delete":
                result = await self._one("delete_task", {"task_id": task.id})
                return f'Deleted task {task.id} "{result["title"]}".'
            case "update":
                title = as_title(intent.parts["new"])
                if task.title == title:
                    return f'Task {task.id} is already called "{title}".'
                arguments = {"task_id": task.id, "title": title}
                result = await self._one("update_task", arguments)
                before = f' from "{task.title}"' if task.title else ""
                return f'Renamed task {task.id}{before} to "{result["title"]}".'
            case _:
                description = unquote(intent.parts["new"])
                arguments = {"task_id": task.id, "description": description}
                result = await self._one("update_task", arguments)
                return f'Updated the description of task {task.id} "{result["title"]}".'

    def _cannot_reopen(self, task: TaskState) -> str:
        return (
            f"I can't reopen a task from the chat, so {_named(task)} is still done. The tasks"
            f" API can reopen it: PATCH /api/{self.tools.user_id}/tasks/{task.id} with"
            ' {"completed": false}.'
        )

    async def undo(self, _: Intent) -> str:
        """Reverse the latest change made in this conversation that was not undone yet."""
        if not self.memory.changes:
            return NOTHING_TO_UNDO
        change = self.memory.changes[-1]
        undo = {
            "add_task": self._unadd,
            "delete_task": self._undelete,
            "update_task": self._unupdate,
            "complete_task": self._uncomplete,
        }[change.call.tool]
        return await undo(change)

    async def _unadd(self, change: Change) -> str:
        result = await self._one("delete_task", {"task_id": change.task_id})
        return f'Undone: I deleted task {change.task_id} "{result["title"]}", which I had added.'

    async def _undelete(self, change: Change) -> str:
        before = change.before or TaskState(change.task_id)
        arguments: dict[str, Any] = {"title": change.result["title"]}
        if before.description_known and before.description:
            arguments["description"] = before.description
        result = await self._one("add_task", arguments)
        notes = [
            f'Undone: "{result["title"]}" is back, as task {result["task_id"]}'
            " (a deleted task's number is not reused)."
        ]
        if before.completed:
            notes.append("It was done; it is open now.")
        if not before.description_known:
            notes.append("If it had a description, I couldn't bring that back.")
        return " ".join(notes)

    async def _unupdate(self, change: Change) -> str:
        before, changed = change.before, change.call.arguments
        arguments: dict[str, Any] = {"task_id": change.task_id}
        unknown = []
        if "title" in changed:
            if before is not None and before.title:
                arguments["title"] = before.title
            else:
                unknown.append("its title")
        if "description" in changed:
            if before is not None and before.description_known:
                arguments["description"] = before.description or ""
            else:
                unknown.append("its description")
        missing = f"I don't know what {' or '.join(unknown)} said before that change"
        if len(arguments) == 1:
            return f"I can't undo my change to task {change.task_id}: {missing}."
        result = await self._one("update_task", arguments)
        task = change.task_id
        if "title" not in arguments:
            said = f'Undone: task {task} "{result["title"]}" has its description as it was'
        elif "description" in arguments:
            said = f'Undone: task {task} is "{result["title"]}" again, its description as it was'
        else:
            said = f'Undone: task {task} is "{result["title"]}" again'
        return f"{said}." + (f" {missing}, so I left it." if unknown else "")

    async def _uncomplete(self, change: Change) -> str:
        task = TaskState(change.task_id, str(change.result["title"]))
        if change.before is not None and change.before.completed:
            return f"{_capitalised(_named(task))} was already done before, so nothing changed."
        return self._cannot_reopen(task)

    async def _one(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.tools.call(name, arguments)
        assert isinstance(result, dict)
        return result

    async def _list(self, status: str) -> list[TaskState]:
        result = await self.tools.call("list_tasks", {"status": status})
        assert isinstance(result, list)
        return [TaskState(int(t["id"]), str(t["title"]), bool(t["completed"])) for t in result]


def _by_words(
    text: str, pool: Sequence[TaskState], action: Action, answering: bool
) -> TaskState | str:
    """The one task of `pool` whose title the words name best, or a question, or why not."""
    matches = [pool[i] for i in best(text, [task.title for task in pool])]
    # Of equally good matches, the ones the action can change are meant.
    changeable = {"complete": False, "reopen": True}
    if action in changeable and len(matches) > 1:
        matches = [t for t in matches if t.completed is changeable[action]] or matches
    if len(matches) == 1:
        return matches[0]
    if matches:
        return _which_one(matches)
    if answering:
        return _which_one(pool, f'None of those matches "{text}". ')
    return f'I couldn\'t find a task matching "{text}".'
