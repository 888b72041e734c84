"""What the benchmark database holds: one measured user, and background users to grow it."""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TARGET_USER = "bench-target"
BASE_USERS = 10
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

_VOCABULARY = """
buy groceries call mom pay bills finish report book flight dentist meeting notes review pull
request water plants renew passport gym laundry plan trip birthday gift email landlord fix bike
read chapter clean kitchen prepare slides budget taxes car service pick up kids order pizza
schedule call team update resume walk dog tomorrow tonight please remind me what is pending
done complete delete change add show list
"""
_WORDS = _VOCABULARY.split()


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

    @property
    def target_lengths(self) -> list[int]:
        """The length of each of the measured user's conversations; the first is measured."""
        return [self.deep_messages] + [self.other_messages] * (self.conversations - 1)

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
        return sum(self.target_lengths) + users * self.user_conversations * self.user_messages

    def tasks_at(self, factor: int) -> int:
        """How many tasks the database holds at `factor`."""
        return self.tasks + self.background_users(factor) * self.user_tasks


FULL = Shape()
TINY = Shape(
    conversations=30,
    deep_messages=120,
    other_messages=4,
    tasks=300,
    user_conversations=3,
    user_messages=10,
    user_tasks=20,
)


def background_user(number: int) -> str:
    """The id of background user `number`."""
    return f"bench-{number:07d}"


class Texts:
    """Deterministic text of realistic lengths, drawn from pools so generation stays cheap."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)  # noqa: S311 (sample text, not secrets)

        def sentence(low: int, high: int) -> str:
            length = rng.randint(low, high)
            words: list[str] = []
            while sum(len(w) + 1 for w in words) < length:
                words.append(rng.choice(_WORDS))
            return " ".join(words).capitalize()

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
