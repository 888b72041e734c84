"""What a message asks for: a table of intents, each with the ways people say it."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from todochat.chat.offline.matching import IRREGULAR_PAST, names_something

Action = Literal[
    "help",
    "thanks",
    "dismiss",
    "undo",
    "choose",
    "list",
    "add",
    "complete",
    "reopen",
    "delete",
    "update",
    "describe",
]
# Actions on one task, named by the `ref` part of the intent.
ON_A_TASK: frozenset[Action] = frozenset({"complete", "reopen", "delete", "update", "describe"})

NUMBER_WORDS = (  # noqa: SIM905 (a list of words reads best as words)
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen twenty"
).split()
# Places in a list, from 0: "the first one" … "the tenth one", and "the last one" (-1).
ORDINALS = {
    word: place
    for place, words in enumerate(
        (  # noqa: SIM905
            "first/1st/former second/2nd third/3rd fourth/4th fifth/5th sixth/6th seventh/7th"
            " eighth/8th ninth/9th tenth/10th"
        ).split()
    )
    for word in words.split("/")
} | dict.fromkeys(("last", "latter", "final"), -1)

# Ten digits at most: task numbers fit in 32 bits (and Python parses no more than 4,300).
_NUMBER = rf"(?:\d{{1,10}}|{'|'.join(NUMBER_WORDS)})"
_ORDINAL = rf"(?:{'|'.join(ORDINALS)})"
_NOUN = r"(?:tasks?|to-?dos?|items?|reminders?|things?|entry|entries)"
_LIST = rf"(?:(?:my|the|our) )?(?:(?:to-?do|task) )?(?:list|{_NOUN})"
_DONE = r"(?:done|complete|completed|finished|checked off|ticked off|taken care of|sorted)"
_NOT_DONE = (
    r"(?:not done|not complete|not completed|not finished|undone|incomplete|unfinished"
    r"|open|pending|to ?do|outstanding)"
)
_PENDING_WORDS = (
    r"(?:pending|left|remaining|outstanding|open|incomplete|unfinished|not done|to do|todo"
    r"|still|undone|not completed|next|plate)"
)
_COMPLETED_WORDS = r"(?:completed|complete|done|finished|accomplished|checked off|ticked off)"
_LIST_VERB = (
    r"(?:show|list|see|view|display|what|what's|whats|which|tell me|give me|any|anything|get|"
    r"read|check|do i have|how many|is there|are there)"
)
_LIST_WORD = rf"(?:{_NOUN}|list|{_PENDING_WORDS}|{_COMPLETED_WORDS})"
_IRREGULAR_PAST = f"(?:{'|'.join(IRREGULAR_PAST)})"
_ADVERBS = r"(?:really|probably|definitely|also|still|maybe|actually|seriously|finally|just)"


@dataclass(frozen=True)
class Intent:
    """What a message asks for: an action, its parts, and the rule that read it so."""

    action: Action
    parts: dict[str, str]
    rule: str = field(default="", compare=False)


@dataclass(frozen=True)
class Rule:
    """One way of saying something: matched against the whole cleaned message."""

    name: str
    action: Action
    pattern: re.Pattern[str]
    parts: Mapping[str, str]

    def read(self, text: str) -> Intent | None:
        """The intent of `text` if this rule matches all of it."""
        match = self.pattern.fullmatch(text)
        if match is None:
            return None
        said = {name: value.strip() for name, value in match.groupdict().items() if value}
        if len(said) < len(self.pattern.groupindex):  # a part matched nothing but blanks
            return None
        parts = {**self.parts, **said}
        if "title" in parts:
            parts["title"] = as_title(parts["title"])
        if self.action == "list" and "status" not in parts:
            parts["status"] = _status(text)
        return Intent(self.action, parts, self.name)


def _rule(name: str, action: Action, pattern: str, **parts: str) -> Rule:
    return Rule(name, action, re.compile(pattern, re.IGNORECASE), parts)


# The first rule that matches the whole message decides: small talk, then answers and
# commands that begin with their verb, then listings, then sentences that end with theirs,
# then intentions, whose open wording ("I should …") would swallow the others.
RULES: tuple[Rule, ...] = (
    _rule(
        "greeting",
        "help",
        r"(?:hi|hello|hey|help|what can you do|who are you|how does (?:this|it) work"
        r"|how do (?:i|you) use (?:this|you))(?: there)?",
    ),
    _rule(
        "thanks",
        "thanks",
        r"(?:thanks|thank you|thx)(?: (?:a lot|so much|very much))?|many thanks|cheers|great"
        r"|perfect|ok|okay|cool|nice|awesome|got it",
    ),
    _rule(
        "dismiss",
        "dismiss",
        r"(?:never ?mind|forget it|neither(?: of them)?|none(?: of (?:them|those))?|cancel"
        r"|no(?:,)? thanks|leave it|nothing)",
    ),
    _rule(
        "undo",
        "undo",
        r"(?:undo|revert|reverse|roll back)(?: (?:that|it|this|the last (?:change|action|thing|one)"
        r"|what you (?:just )?did|my last (?:change|request)))?",
    ),
    _rule(
        "undo-take-back",
        "undo",
        r"(?:oops|whoops|my (?:bad|mistake))?,? ?(?:take (?:that|it) back|put (?:it|that) back"
        r"|bring (?:it|that) back|restore (?:it|that)|that was a mistake"
        r"|i didn't mean (?:that|to do that)|undo(?: that| it)?)",
    ),
    _rule(
        "choose-number",
        "choose",
        rf"(?P<ref>(?:the )?(?:(?:task|to-?do|item|number|no\.?|option) ?#?|#)?{_NUMBER}"
        r"(?: one)?)",
    ),
    _rule(
        "choose-ordinal",
        "choose",
        rf"(?P<ref>(?:the )?{_ORDINAL}(?: one| task| item| option)?(?: (?:on|in) the list)?)",
    ),
    _rule(
        "describe-of",
        "describe",
        r"(?:change|update|set|edit|make) (?:the )?(?:description|details|notes?) (?:of|for|on)"
        r" (?P<ref>.+?) (?:to|as|into) (?P<new>.+)",
    ),
    _rule(
        "describe-possessive",
        "describe",
        r"(?:change|update|set|edit) (?P<ref>.+?)'s (?:description|details|notes?) (?:to|as)"
        r" (?P<new>.+)",
    ),
    _rule(
        "describe-note",
        "describe",
        r"add (?:a )?(?:note|description|details) to (?P<ref>.+?)(?::| saying| that says)"
        r" (?P<new>.+)",
    ),
    _rule(
        "reopen-verb",
        "reopen",
        r"(?:reopen|re-open|unmark|uncheck|untick|un-?complete|un-?finish) (?P<ref>.+?)"
        rf"(?: as {_DONE})?",
    ),
    _rule(
        "reopen-mark",
        "reopen",
        rf"(?:mark|set|put|move) (?P<ref>.+?) (?:back )?(?:as |to |in )?{_NOT_DONE}(?: again)?",
    ),
    _rule(
        "complete-mark",
        "complete",
        rf"(?:mark|set|check|put) (?P<ref>.+?) (?:as |to )?{_DONE}",
    ),
    _rule(
        "complete-cross-off",
        "complete",
        rf"(?:cross|tick|check|strike) (?P<ref>.+?) off(?: (?:of )?{_LIST})?",
    ),
    _rule(
        "complete-verb",
        "complete",
        rf"(?:complete|finish|check off|tick off|cross off|strike off|close)"
        rf" (?P<ref>.+?)(?: (?:on|from) {_LIST})?",
    ),
    _rule(
        "complete-said",
        "complete",
        r"(?:i |i've |i have |we |we've )?(?:just |already |finally |now )?(?:finished|completed"
        r"|done with|got done with|took care of|dealt with|wrapped up|knocked out) (?P<ref>.+)",
    ),
    _rule("complete-did", "complete", r"i (?:just |already |finally )?did (?P<ref>.+)"),
    _rule(
        "complete-done-with",
        "complete",
        r"(?:i'm|i am|we're|we are) (?:all |finally )?(?:done|finished) (?:with )?(?P<ref>.+)",
    ),
    _rule(
        "delete-verb",
        "delete",
        r"(?:delete|remove|cancel|drop|erase|trash|scrap|scratch|discard|get rid of"
        rf"|forget about) (?P<ref>.+?)(?: (?:from|off) {_LIST})?",
    ),
    _rule("delete-take-off", "delete", rf"take (?P<ref>.+?) off {_LIST}"),
    _rule(
        "delete-no-need",
        "delete",
        r"(?:i |we )?(?:don't|do not|no longer) (?:need|have) to (?P<ref>.+?)"
        r"(?: anymore| any more| after all)?",
    ),
    _rule(
        "update",
        "update",
        r"(?:change|update|rename|edit|modify|set|retitle) (?:the (?:title|name) of )?"
        r"(?P<ref>.+?) (?:to|into|as) (?P<new>.+)",
    ),
    _rule(
        "add-verb",
        "add",
        rf"(?:add|put|jot(?: down)?|note down|write down|put down)(?: an?)?(?: new)?(?: {_NOUN})?"
        r"(?: (?:to|for|called|named|titled|saying|about))?[:\s-]*(?P<title>.+?)"
        rf"(?: (?:to|on|onto|in) {_LIST})?",
    ),
    _rule(
        "add-create",
        "add",
        rf"(?:create|make|set up|start|new)(?: an?)?(?: new)? {_NOUN}"
        r"(?: (?:to|for|called|named|titled|saying|about))?[:\s-]*(?P<title>.+?)"
        rf"(?: (?:to|on|onto|in) {_LIST})?",
    ),
    _rule("add-label", "add", r"(?:new )?(?:to-?do|task|note to self|reminder)s?: ?(?P<title>.+)"),
    _rule(
        "list-plate",
        "list",
        r"(?:what'?s|what is) on (?:my|the) (?:plate|agenda|schedule|radar|list)"
        r"|what(?:'?s| is| are)(?: my)? (?:next|left|remaining|outstanding|pending|open)"
        r"(?: (?:to do|for me|on my list))?"
        r"|what (?:else )?(?:do|should|must) i (?:still )?(?:have to |need to |got to )?do"
        r"(?: today| next| now)?|(?:is there )?anything (?:else )?(?:left|pending)?(?: to do)?"
        r"|what remains|what(?:'?s| is) there (?:left )?to do|what(?:'?s| is) left to do",
        status="pending",
    ),
    _rule(
        "list-everything",
        "list",
        r"(?:(?:show|list|give|tell|display|read)(?: me| out)? )?(?:everything|it all"
        r"|all of (?:it|them)|(?:my |the )?(?:full|whole|entire|complete) (?:list|to-?do list"
        r"|task list|thing))",
        status="all",
    ),
    _rule(
        "list-done",
        "list",
        r"what (?:have|did) (?:i|we) (?:already |just )?(?:done|do|finished|finish|completed"
        r"|complete|accomplished|accomplish|get done|got done|ticked off|checked off)"
        r"(?: so far| today| yet| this week)?"
        r"|(?:show|list|tell)(?: me)? (?:what|everything) (?:i|i've|i have) (?:done|finished"
        r"|completed)",
        status="completed",
    ),
    _rule(
        "list-words",
        "list",
        # A listing verb among the first words, and a word about tasks or their state anywhere.
        rf"(?=(?:\S+ ){{0,3}}{_LIST_VERB}\b)(?=.*\b{_LIST_WORD}\b).+",
    ),
    _rule("list-bare", "list", rf"(?:my |all |all my )?(?:{_NOUN}|list|to-?do list)"),
    _rule(
        "reopen-not-done",
        "reopen",
        rf"(?P<ref>.+?) (?:isn't|is not|wasn't|was not|'s not) (?:actually )?{_DONE}"
        r" (?:yet|after all)",
    ),
    _rule(
        "reopen-didnt",
        "reopen",
        r"(?:i )?(?:haven't|have not|didn't|did not) (?:actually )?(?:finish|finished|complete"
        r"|completed|do|done) (?P<ref>.+?) (?:yet|after all)",
    ),
    _rule(
        "complete-is-done",
        "complete",
        rf"(?P<ref>.+?)(?:'s| is| are) (?:now |all |finally )?{_DONE}",
    ),
    _rule(
        "complete-past",
        "complete",
        # "I called the dentist": the task's own verb, done; not "I started …" or "I added …".
        r"(?:i|i've|i have|we|we've) (?:just |already |finally |now )?(?P<ref>(?!(?:start|want"
        r"|need|tri|plann|hop|decid|add|creat|delet|remov|renam|chang|updat|ask|wonder"
        rf"|us)ed\b)(?:\w*[^\We]ed|{_IRREGULAR_PAST}) .+)",
    ),
    _rule("complete-shorthand", "complete", r"(?P<ref>(?:task |#)\S+):? (?:done|finished)"),
    _rule(
        "intend-remember",
        "add",
        r"(?:i )?(?:need|have|want|got|must|should) to remember (?:to )?(?P<title>.+)",
    ),
    _rule(
        "intend-remind",
        "add",
        r"(?:remind me|remember|don't (?:let me )?forget|do not (?:let me )?forget"
        r"|make sure (?:i|to)|note to self)(?: to| about| that|:|,)? (?P<title>.+)",
    ),
    _rule(
        "intend-should",
        "add",
        rf"(?:i|we|i've|we've|i'll|we'll|i'd)? ?(?:{_ADVERBS} )?(?:should|ought to|need to"
        r"|have to|must|gotta|got to|have got to|'ve got to|will need to|want to|'d like to"
        r"|plan to|mean to|am supposed to|'m supposed to|wanna|would like to)"
        r" (?P<title>.+)",
    ),
)

_QUOTES = str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")
_LEADING_FILLER = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|well|um|uh|oh|alright|also|and|actually|please|kindly"
    r"|assistant|todochat|(?:could|can|would|will) (?:you|u)(?: please)?|i want you to"
    r"|i'd like you to|i would like you to|go ahead and|just|let's"
    # "I want to see my tasks" is a request; "I want to learn piano" an intention to add.
    r"|(?:i want|i'd like|i would like) to(?= (?:add|create|see|view|list|show|know|delete"
    r"|remove|complete|mark|change|rename|update|edit|undo|reopen)\b))\b[\s,]*"
    r"(?=\S)(?!there$))+",  # "hi there" is a greeting
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank you|thx|for me|now|asap|right now|real quick|again))+$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^[\"'](.*)[\"']$")
_FRAMING = re.compile(
    rf"^(?:(?:to|that|about|please|{_ADVERBS}|i (?:need|have|should|must|ought) to|at some point)"
    r"\b\s*)+",
    re.IGNORECASE,
)
_PENDING = re.compile(rf"\b{_PENDING_WORDS}\b", re.IGNORECASE)
_COMPLETED = re.compile(rf"\b{_COMPLETED_WORDS}\b", re.IGNORECASE)


def clean(message: str) -> str:
    """The message without typographic quotes, extra spaces, politeness and end punctuation."""
    text = re.sub(r"\s+", " ", message.strip().translate(_QUOTES)).rstrip(" .!?")
    text = _LEADING_FILLER.sub("", text)
    return _TRAILING_FILLER.sub("", text).strip(" .!?,")


def unquote(text: str) -> str:
    """The text inside the quotes around it, if any."""
    match = _QUOTED.match(text.strip())
    return match.group(1).strip() if match else text.strip()


def is_quoted(text: str) -> bool:
    """Whether the text is in quotes, as an exact title would be."""
    return _QUOTED.match(text.strip()) is not None


def as_title(text: str) -> str:
    """A task title from what a person said: no framing ("I should …"), a capital first."""
    title = text.strip() if is_quoted(text) else _FRAMING.sub("", text.strip()) or text.strip()
    title = unquote(title)
    return title[:1].upper() + title[1:]


def _status(text: str) -> str:
    if _PENDING.search(text):
        return "pending"
    if _COMPLETED.search(text):
        return "completed"
    return "all"


def understand(message: str) -> Intent | None:
    """The intent of a message, or None when it asks for nothing the assistant can do."""
    text = clean(message)
    if not text:  # nothing but a greeting or punctuation
        return Intent("help", {}, "empty")
    for rule in RULES:
        intent = rule.read(text)
        if intent is not None:
            return intent
    return None


@dataclass(frozen=True)
class Number:
    """A task named by its number: "task 3", "#3", "3", "three"."""

    value: int
    explicit: bool  # "task 3" or "#3": a task's number, never a place in a list of options


@dataclass(frozen=True)
class Place:
    """A place in the list last shown: "the second one", "the last one" (-1)."""

    index: int


@dataclass(frozen=True)
class Pronoun:
    """The task last acted on: "it", "that one"."""


@dataclass(frozen=True)
class Words:
    """A task named by words of its title, or by its whole title in quotes."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Nothing:
    """No task named at all: "delete the task"."""


Reference = Number | Place | Pronoun | Words | Nothing

_PRONOUN = re.compile(
    r"(?:it|that|this|(?:that|this|the same) (?:one|task|to-?do|item)"
    r"|the (?:one|task) (?:i|you) just (?:added|did|changed|made|completed|finished|renamed))",
    re.IGNORECASE,
)
_NUMBERED = re.compile(
    r"(?:the )?(?P<label>(?:task|to-?do|item|number|no\.?|option) ?#?|#)?\s*(?:number |no\.? |#)?"
    rf"(?P<n>{_NUMBER})(?: one| task)?",
    re.IGNORECASE,
)
_PLACED = re.compile(
    rf"(?:the )?(?P<o>{_ORDINAL})(?: one| task| item| option)?(?: (?:on|in) the list)?",
    re.IGNORECASE,
)
_REFERENCE_FILLER = re.compile(
    rf"^(?:(?:the|my|a|that|this) )?(?:{_NOUN} )?(?:(?:called|named|titled|about|to) )?"
    rf"|(?: {_NOUN}| one)$",
    re.IGNORECASE,
)


def reference(text: str) -> Reference:
    """Which task a phrase names, and how: by number, place, pronoun or words."""
    text = text.strip()
    if is_quoted(text):
        return Words(unquote(text), quoted=True)
    if _PRONOUN.fullmatch(text):
        return Pronoun()
    if numbered := _NUMBERED.fullmatch(text):
        n = numbered.group("n").lower()
        label = (numbered.group("label") or "").lower()
        value = int(n) if n.isdigit() else NUMBER_WORDS.index(n)
        return Number(value, explicit=label.startswith(("task", "to", "item", "#")))
    if placed := _PLACED.fullmatch(text):
        return Place(ORDINALS[placed.group("o").lower()])
    words = _REFERENCE_FILLER.sub("", text).strip()
    return Words(words) if names_something(words) else Nothing()
