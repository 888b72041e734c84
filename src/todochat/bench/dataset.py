"""What the benchmark database holds: one measured user, and background users to grow it."""

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TARGET_USER = "bench-target"
# The user whose history is searched: a long one, the same at every size.
SEARCH_USER = "bench-searcher"
BASE_USERS = 10
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# Text follows Zipf's law, as real text does: the word of rank r comes about 1/r as often as the
# commonest. The commonest are the little words of every sentence; the things tasks are about
# (some of them phrases) rank from the 100th to the 2,000th, as a person's recurring errands
# would; a long tail of rarer words fills the rest. A search word therefore matches as many
# messages as it would in a real history: a few percent for the commonest errands, fewer for
# the rest.
_COMMON = """
I you the a to and it is for my me on that this with at can do please what will be have not
are was so but just get need about also your if we they all from up out there when how one
time today some more now want know like go make see thanks ok good
"""
_TOPICS = [
    "buy groceries", "call mom", "pay bills", "finish report", "book flight", "dentist",
    "meeting notes", "review pull request", "water plants", "renew passport", "gym", "laundry",
    "plan trip", "birthday gift", "email landlord", "fix bike", "read chapter", "clean kitchen",
    "prepare slides", "budget", "taxes", "car service", "pick up kids", "order pizza",
    "schedule call", "team update", "resume", "walk dog", "tomorrow", "tonight", "remind me",
    "pending", "done", "complete", "delete", "change", "add", "show list",
]  # fmt: skip
_FIRST_TOPIC, _LAST_TOPIC = 100, 2_000  # ranks
_RARE_WORDS = 20_000
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass(frozen=True)
class Shape:
    """The measured user's data, and what each background user holds."""

    conversations: int = 1_000
    deep_messages: int = 1_000  # the measured conversation
    other_messages: int = 10
    tasks: int = 10_000
    user_conversations: int = 20
    user_messages: int = 50
    user_tasks: int = 1_000
    searched_conversations: int = 100  # the searched user's, each of `deep_messages`

    @property
    def target_lengths(self) -> list[int]:
        """The length of each of the measured user's conversations; the first is measured."""
        return [self.deep_messages] + [self.other_messages] * (self.conversations - 1)

    @property
    def searched_lengths(self) -> list[int]:
        """The length of each of the searched user's conversations."""
        return [self.deep_messages] * self.searched_conversations

    @property
    def user_lengths(self) -> list[int]:
        """The length of each background user's conversations."""
        return [self.user_messages] * self.user_conversations

    def background_users(self, factor: int) -> int:
        """How many background users make the whole dataset `factor` times the 1x size."""
        target = sum(self.target_lengths)
        per_user = self.user_conversations * self.user_messages
        whole = factor * (target + BASE_USERS * per_user)
        return max(0, round((whole - target) / per_user))

    def messages_at(self, factor: int) -> int:
        """How many messages the database holds at `factor`."""
        users = self.background_users(factor)
        background = users * self.user_conversations * self.user_messages
        return sum(self.target_lengths) + sum(self.searched_lengths) + background

    def tasks_at(self, factor: int) -> int:
        """How many tasks the database holds at `factor`."""
        return self.tasks + (self.background_users(factor) + 1) * self.user_tasks


FULL = Shape()
TINY = Shape(
    conversations=30,
    deep_messages=120,
    other_messages=4,
    tasks=300,
    user_conversations=3,
    user_messages=10,
    user_tasks=20,
    searched_conversations=5,
)


def background_user(number: int) -> str:
    """The id of background user `number`."""
    return f"bench-{number:07d}"


def vocabulary(rng: random.Random) -> list[str]:
    """Every word or phrase the texts use, commonest first."""
    units = dict.fromkeys(_COMMON.split())
    while len(units) < _RARE_WORDS:
        units.setdefault("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))))
    ranked = [unit for unit in units if unit not in _TOPICS]
    step = (_LAST_TOPIC - _FIRST_TOPIC) // len(_TOPICS)
    for n, topic in enumerate(_TOPICS):
        ranked.insert(_FIRST_TOPIC + n * step, topic)
    return ranked


class Texts:
    """Deterministic text of realistic lengths, drawn from pools so generation stays cheap."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)  # noqa: S311 (sample text, not secrets)
        units = vocabulary(rng)
        frequencies = list(itertools.accumulate(1 / rank for rank in range(1, len(units) + 1)))

        def sentence(low: int, high: int) -> str:
            length = rng.randint(low, high)
            said = ""
            while len(said) < length:
                said += " " + " ".join(rng.choices(units, cum_weights=frequencies, k=4))
            return said.strip().capitalize()

        self.user = [sentence(15, 160) for _ in range(997)]
        self.assistant = [sentence(40, 600) for _ in range(991)]
        self.titles = [sentence(8, 60) for _ in range(983)]
        self.calls = [
            json.dumps([{"tool": "add_task", "arguments": {"title": sentence(8, 40)}}])
            for _ in range(101)
        ]
        self.results = [
            json.dumps([{"tool": "add_task", "result": {"task_id": n, "status": "created"}}])
            for n in range(101)
        ]


MessageRow = tuple[str, int, int, str, str, str | None, str | None, datetime]


def messages(
    texts: Texts, user_id: str, conversation_id: int, count: int, start: datetime
) -> Iterator[MessageRow]:
    """A conversation's messages: user and assistant in turn, a quarter with tool calls."""
    for seq in range(1, count + 1):
        at = start + timedelta(seconds=seq)
        if seq % 2:
            content = texts.user[(conversation_id * 31 + seq) % len(texts.user)]
            yield user_id, conversation_id, seq, "user", content, None, None, at
        else:
            n = (conversation_id * 17 + seq) % len(texts.assistant)
            with_tools = seq % 8 == 0
            calls = texts.calls[n % len(texts.calls)] if with_tools else None
            results = texts.results[n % len(texts.results)] if with_tools else None
            yield user_id, conversation_id, seq, "assistant", texts.assistant[n], calls, results, at
