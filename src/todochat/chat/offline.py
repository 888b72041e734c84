"""The built-in assistant: understands plain task commands with no model and no network."""

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from todochat.chat.assistant import Said
from todochat.chat.tools import TaskTools, ToolError

HELP = (
    'I can add, list, complete, delete and update your tasks. Try "Add a task to buy'
    ' groceries", "What\'s pending?", "Mark task 3 as complete" or "Delete the meeting task".'
)
NUMBER_WORDS = {
    word: n
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
}
_LEADING_FILLER = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|well|um|please|kindly|assistant|"
    r"(?:could|can|would|will) (?:you|u)|i'd like (?:you )?to|i would like (?:you )?to|"
    r"i want (?:you )?to|go ahead and|just)\b[\s,]*)+",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank you|thx|for me|now|asap))+$", re.IGNORECASE
)
_QUOTED = re.compile(r"^[\"'](.*)[\"']$")
_LIST_NOUN = r"(?:task|tasks|to-?dos?|items?|list|reminders?)"


def _clean(message: str) -> str:
    text = message.strip().translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
    text = re.sub(r"\s+", " ", text).rstrip(" .!?")
    text = _LEADING_FILLER.sub("", text)
    return _TRAILING_FILLER.sub("", text).strip(" .!?,")


def _unquote(text: str) -> str:
    text = text.strip()
    match = _QUOTED.match(text)
    return match.group(1).strip() if match else text


def _as_title(text: str) -> str:
    title = _unquote(text)
    return title[:1].upper() + title[1:]


@dataclass(frozen=True)
class Intent:
    """What a message asks for: an action and its parts."""

    action: str
    parts: dict[str, str]


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        action,
        re.compile(pattern, re.IGNORECASE),
    )
    for action, pattern in [
        (
            "describe",
            r"^(?:change|update|set|edit) (?:the )?description of (?P<ref>.+?)"
            r" (?:to|as) (?P<new>.+)$",
        ),
        (
            "describe",
            r"^(?:change|update|set|edit) (?P<ref>.+?)'s description (?:to|as) (?P<new>.+)$",
        ),
        (
            "update",
            r"^(?:change|update|rename|edit|modify|set) (?:the (?:title|name) of )?"
            r"(?P<ref>.+?) (?:to|into|as) (?P<new>.+)$",
        ),
        (
            "complete",
            r"^(?:mark|set|check) (?P<ref>.+?) (?:as |to )?(?:complete|completed|done|finished)$",
        ),
        ("complete", r"^(?:complete|finish|check off|tick off|close) (?P<ref>.+)$"),
        (
            "complete",
            r"^(?:i )?(?:have |'ve )?(?:just )?(?:finished|completed|done with|did) (?P<ref>.+)$",
        ),
        ("complete", r"^(?P<ref>.+?) is (?:now )?(?:done|complete|completed|finished)$"),
        ("delete", r"^(?:delete|remove|cancel|drop|erase|trash|get rid of) (?P<ref>.+)$"),
        (
            "add",
            r"^(?:i )?(?:need|have|want|got) to remember (?:to )?(?P<title>.+)$",
        ),
        ("add", r"^(?:remember|remind me) (?:to )?(?P<title>.+)$"),
        (
            "add",
            rf"^(?:add|create|make|new|put)(?: a| an)?(?: new)?(?: {_LIST_NOUN})?"
            r"(?: (?:to|for|called|named|titled|saying|about))?[:\s-]*(?P<title>.+?)"
            rf"(?: (?:to|on|onto) (?:my |the )?(?:{_LIST_NOUN}|to-?do list))?$",
        ),
        ("add", r"^(?:i )?(?:need|have|must|should) to (?P<title>.+)$"),
    ]
]
_LIST_VERB = re.compile(
    r"\b(?:show|list|see|view|display|what|what's|whats|which|tell me|give me|any|get|do i have)\b",
    re.IGNORECASE,
)
_LIST_WORD = re.compile(
    rf"\b(?:{_LIST_NOUN}|pending|completed|done|finished|left|remaining|outstanding|to do|todo)\b",
    re.IGNORECASE,
)
_PENDING = re.compile(
    r"\b(?:pending|left|remaining|outstanding|open|incomplete|unfinished|not done|"
    r"to do|todo|still|undone|not completed)\b",
    re.IGNORECASE,
)
_COMPLETED = re.compile(r"\b(?:completed|complete|done|finished)\b", re.IGNORECASE)
_GREETING = re.compile(r"^(?:hi|hello|hey|help|what can you do|who are you)$", re.IGNORECASE)
_THANKS = re.compile(r"^(?:thanks|thank you|thx|cheers|great|perfect|ok|okay|cool)$", re.I)


def understand(message: str) -> Intent | None:
    """The intent of a message, or None when it asks for nothing the assistant can do."""
    text = _clean(message)
    if not text:  # nothing but a greeting
        return Intent("help", {})
    for action, pattern in _PATTERNS:
        match = pattern.match(text)
        if match and all(value.strip() for value in match.groupdict().values()):
            return Intent(action, {k: v.strip() for k, v in match.groupdict().items()})
    if _LIST_VERB.search(text) and _LIST_WORD.search(text):
        if _PENDING.search(text):
            return Intent("list", {"status": "pending"})
        if _COMPLETED.search(text):
            return Intent("list", {"status": "completed"})
        return Intent("list", {"status": "all"})
    if _GREETING.match(text):
        return Intent("help", {})
    if _THANKS.match(text):
        return Intent("thanks", {})
    return None


_REFERENCE_FILLER = re.compile(
    rf"^(?:the |my |a |that |this )?(?:{_LIST_NOUN} )?(?:called |named |titled |about |to )?"
    r"|(?: {_LIST_NOUN}| one)$".replace("{_LIST_NOUN}", _LIST_NOUN),
    re.IGNORECASE,
)
_NUMBER_REFERENCE = re.compile(
    r"^(?:the )?(?:task|to-?do|item|number|no\.?|#)?\s*(?:number |no\.? |#)?#?(?P<n>\d+|[a-z]+)$",
    re.IGNORECASE,
)
_STOPWORDS = {"the", "a", "an", "my", "to", "of", "for", "and", "task", "one", "about"}


class OfflineAssistant:
    """Understands the task commands people type, and answers in a friendly sentence."""

    async def respond(
        self, history: Sequence[Said], message: str, tools: TaskTools
    ) -> AsyncIterator[str]:
        """The answer word by word, as a model would stream it."""
        for piece in re.findall(r"\S+\s*|\s+", await self.answer(history, message, tools)):
            yield piece

    async def close(self) -> None:
        """Nothing to release."""

    async def answer(self, history: Sequence[Said], message: str, tools: TaskTools) -> str:
        """Act on `message` through the tools; say what was done, or plainly what was not."""
        intent = understand(message)
        if intent is None:
            return f"Sorry, I didn't understand that. {HELP}"
        if intent.action == "help":
            return f"Hi! {HELP}"
        if intent.action == "thanks":
            return "You're welcome! Anything else on your list?"
        try:
            if intent.action == "add":
                return await self._add(tools, _as_title(intent.parts["title"]))
            if intent.action == "list":
                return await self._list(tools, intent.parts["status"])
            return await self._act_on(tools, intent)
        except ToolError as error:
            return str(error)

    async def _add(self, tools: TaskTools, title: str) -> str:
        result = await _one(tools, "add_task", {"title": title})
        return f'Added task {result["task_id"]}: "{result["title"]}".'

    async def _list(self, tools: TaskTools, status: str) -> str:
        tasks = await _many(tools, "list_tasks", {"status": status})
        if not tasks:
            return {
                "pending": "You have no pending tasks. 🎉",
                "completed": "You haven't completed any tasks yet.",
            }.get(status, 'Your task list is empty. Add one with "Add a task to …".')
        lines = [
            f"{task['id']}. {task['title']}"
            + (" ✓" if status == "all" and task["completed"] else "")
            for task in tasks
        ]
        count = len(tasks)
        heading = {
            "pending": f"You have {count} pending task{'s' * (count != 1)}:",
            "completed": f"You have completed {count} task{'s' * (count != 1)}:",
        }.get(status, f"You have {count} task{'s' * (count != 1)}:")
        return "\n".join([heading, *lines])

    async def _act_on(self, tools: TaskTools, intent: Intent) -> str:
        task_id = await self._resolve(tools, intent.parts["ref"], intent.action)
        if isinstance(task_id, str):
            return task_id
        if intent.action == "complete":
            result = await _one(tools, "complete_task", {"task_id": task_id})
            return f'Marked task {task_id} "{result["title"]}" as complete. Nice work!'
        if intent.action == "delete":
            result = await _one(tools, "delete_task", {"task_id": task_id})
            return f'Deleted task {task_id} "{result["title"]}".'
        field = "description" if intent.action == "describe" else "title"
        new = intent.parts["new"]
        value = _unquote(new) if field == "description" else _as_title(new)
        result = await _one(tools, "update_task", {"task_id": task_id, field: value})
        if field == "description":
            return f'Updated the description of task {task_id} "{result["title"]}".'
        return f'Updated task {task_id} to "{result["title"]}".'

    async def _resolve(self, tools: TaskTools, reference: str, action: str) -> int | str:
        """The number of the task `reference` names, or a sentence saying why there is none."""
        quoted = _QUOTED.match(reference.strip())
        phrase = quoted.group(1) if quoted else _REFERENCE_FILLER.sub("", reference.strip())
        number = _NUMBER_REFERENCE.match(phrase) if not quoted else None
        if number:
            value = number.group("n").lower()
            if value.isdigit():
                return int(value)
            if value in NUMBER_WORDS:
                return NUMBER_WORDS[value]
        if not phrase.strip():
            return "Which task do you mean? Tell me its number or part of its title."
        tasks = await _many(tools, "list_tasks", {"status": "all"})
        matches = _matching(tasks, phrase)
        if action == "complete" and len(matches) > 1:
            pending = [task for task in matches if not task["completed"]]
            matches = pending or matches
        if len(matches) == 1:
            return int(matches[0]["id"])
        if not matches:
            return f'I couldn\'t find a task matching "{phrase}".'
        options = ", ".join(f'{t["id"]} "{t["title"]}"' for t in matches[:5])
        return f"Which one do you mean: {options}? Tell me its number."


async def _one(tools: TaskTools, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await tools.call(name, arguments)
    assert isinstance(result, dict)
    return result


async def _many(tools: TaskTools, name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    result = await tools.call(name, arguments)
    assert isinstance(result, list)
    return result


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _matching(tasks: list[dict[str, Any]], phrase: str) -> list[dict[str, Any]]:
    wanted = phrase.lower().strip()
    exact = [task for task in tasks if task["title"].lower() == wanted]
    if exact:
        return exact
    containing = [task for task in tasks if wanted in task["title"].lower()]
    if containing:
        return containing
    words = [word for word in _words(phrase) if word not in _STOPWORDS]
    return [
        task
        for task in tasks
        if words
        and all(any(token.startswith(word) for token in _words(task["title"])) for word in words)
    ]
