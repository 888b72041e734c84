"""What the conversation so far tells the assistant, read from its messages and tool records."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from todochat.chat.assistant import Said
from todochat.chat.offline.grammar import ON_A_TASK, Intent, understand
from todochat.chat.tools import ToolCall
from todochat.conversations.models import Role

# How the assistant asks which task a person means; an answer that contains one of these
# leaves the question open for the person's next message.
WHICH_ONE = "Which one do you mean"
WHICH_TASK = "Which task do you mean?"
CHANGES = frozenset({"add_task", "complete_task", "delete_task", "update_task"})


@dataclass(frozen=True)
class TaskState:
    """A task as the latest record of it says; what no record said is unknown."""

    id: int
    title: str = ""
    completed: bool | None = None
    description: str | None = None
    description_known: bool = False


@dataclass(frozen=True)
class Change:
    """A change the assistant made, and the task as the records knew it just before."""

    call: ToolCall
    before: TaskState | None

    @property
    def task_id(self) -> int:
        """The number of the task changed."""
        return int(self.result["task_id"])

    @property
    def result(self) -> dict[str, Any]:
        """What the tool returned."""
        assert isinstance(self.call.result, dict)
        return self.call.result


@dataclass(frozen=True)
class Question:
    """The assistant's open question "which task?": the request it is about, and its options."""

    intent: Intent
    options: tuple[TaskState, ...]


@dataclass(frozen=True)
class _Turn:
    said: str
    calls: list[ToolCall]
    answer: str | None


def _turns(history: Sequence[Said]) -> list[_Turn]:
    turns: list[_Turn] = []
    for said in history:
        if said.role is Role.USER:
            turns.append(_Turn(said.content, [], None))
        elif turns and said.role is Role.TOOL and said.call is not None:
            turns[-1].calls.append(said.call)
        elif turns and said.role is Role.ASSISTANT:
            turns[-1] = replace(turns[-1], answer=said.content)
    return turns


def _offered(answer: str, listed: Sequence[TaskState]) -> tuple[TaskState, ...]:
    """The tasks an answer offered as options (`3 "Title"`), in the order it named them."""
    found = []
    for task in listed:
        named = re.search(rf'(?<!\d){task.id} "{re.escape(task.title)}"', answer)
        if named:
            found.append((named.start(), task))
    return tuple(task for _, task in sorted(found, key=lambda pair: pair[0]))


@dataclass
class Memory:
    """The context of the next message: what the conversation's turns left behind."""

    question: Question | None = None  # "which one do you mean?", unanswered
    focus: TaskState | None = None  # what "it" is: the task last acted on, or shown alone
    shown: tuple[TaskState, ...] = ()  # the list last shown, or the options last offered
    changes: list[Change] = field(default_factory=list)  # not undone yet, latest last
    known: dict[int, TaskState] = field(default_factory=dict)  # every task, as last recorded

    @classmethod
    def of(cls, history: Sequence[Said]) -> "Memory":
        """What `history` (whole turns, oldest first) tells."""
        memory = cls()
        for turn in _turns(history):
            memory._remember(turn)
        return memory

    def _remember(self, turn: _Turn) -> None:
        intent = understand(turn.said)
        undoing = intent is not None and intent.action == "undo"
        listed: tuple[TaskState, ...] | None = None
        changed = False
        for call in turn.calls:
            if call.error is not None:
                continue
            if call.tool == "list_tasks" and isinstance(call.result, list):
                listed = tuple(self._saw(item) for item in call.result)
            elif call.tool in CHANGES and isinstance(call.result, dict):
                change = Change(call, self.known.get(int(call.result["task_id"])))
                self.focus = self._changed(change)
                changed = True
                if not undoing:
                    self.changes.append(change)
        if undoing and changed and self.changes:
            self.changes.pop()  # the change this turn reversed
        if intent is not None and intent.action == "list" and listed is not None:
            self.shown = listed
            if len(listed) == 1:
                self.focus = listed[0]
        self._asked(turn, intent, listed or ())

    def _asked(self, turn: _Turn, intent: Intent | None, listed: tuple[TaskState, ...]) -> None:
        answer = turn.answer or ""
        if WHICH_ONE not in answer and WHICH_TASK not in answer:
            self.question = None
            return
        if intent is not None and intent.action in ON_A_TASK:
            about: Intent | None = intent
        else:  # the message answered an earlier question, which is asked again
            about = self.question.intent if self.question else None
        options = _offered(answer, listed)
        self.question = Question(about, options) if about else None
        if options:
            self.shown = options

    def _saw(self, item: dict[str, Any]) -> TaskState:
        task_id = int(item["id"])
        before = self.known.get(task_id, TaskState(task_id))
        seen = replace(before, title=str(item["title"]), completed=bool(item["completed"]))
        self.known[task_id] = seen
        return seen

    def _changed(self, change: Change) -> TaskState:
        """The task after the change, as far as the records tell."""
        task_id, title = change.task_id, str(change.result["title"])
        before = change.before or TaskState(task_id)
        arguments = change.call.arguments
        match change.call.tool:
            case "add_task":
                after = TaskState(
                    task_id, title, False, arguments.get("description"), description_known=True
                )
            case "complete_task":
                after = replace(before, title=title, completed=True)
            case "update_task" if "description" in arguments:
                after = replace(
                    before,
                    title=title,
                    description=arguments["description"],
                    description_known=True,
                )
            case _:
                after = replace(before, title=title)
        if change.call.tool == "delete_task":
            self.known.pop(task_id, None)
        else:
            self.known[task_id] = after
        return after
