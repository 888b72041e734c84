"""The stores a developer could pick instead, on the same database, with the same messages."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from agents.extensions.memory import SQLAlchemySession
from langchain_community.chat_message_histories import SQLChatMessageHistory
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, message_to_dict
from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from todochat.bench.contenders import ANSWER, MEASURED, PAGE, QUESTION, Contender
from todochat.bench.dataset import EPOCH, TARGET_USER, Shape, Texts, background_user, messages
from todochat.bench.seed import sink
from todochat.db import async_url

READ_SESSION = f"{TARGET_USER}-1"
WRITE_SESSION = f"{TARGET_USER}-2"


def _engine(url: str) -> AsyncEngine:
    return create_async_engine(async_url(url), connect_args=_connect_args(url))


def _connect_args(url: str) -> dict[str, Any]:
    return {} if async_url(url).get_backend_name() == "sqlite" else {"prepare_threshold": None}


class AgentsSession(Contender):
    """The OpenAI Agents SDK's SQLAlchemySession: `get_items(limit=50)` and `add_items`."""

    name = "Agents SDK SQLAlchemySession"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.engine = _engine(url)
        self.reader = SQLAlchemySession(READ_SESSION, engine=self.engine, create_tables=True)
        self.writer = SQLAlchemySession(WRITE_SESSION, engine=self.engine, create_tables=True)
        self.operations = {
            "history": lambda: self.reader.get_items(limit=PAGE),
            "turn": lambda: self.writer.add_items(
                [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]
            ),
        }

    async def texts(self) -> list[str]:
        """The texts of the measured session's latest messages, oldest first."""
        return [str(item["content"]) for item in await self.reader.get_items(limit=PAGE)]  # type: ignore[typeddict-item]

    async def create_tables(self) -> None:
        """Make the SDK create its tables and the measured sessions."""
        await self.reader.add_items([{"role": "user", "content": "hello"}])
        await self.reader.clear_session()
        await self.writer.add_items([{"role": "user", "content": "hello"}])

    async def close(self) -> None:
        await self.engine.dispose()


class LangChainHistory(Contender):
    """LangChain's SQLChatMessageHistory: `messages` (the last 50 of them) and `add_messages`."""

    name = "LangChain SQLChatMessageHistory"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.engine = _engine(url)
        self.reader = SQLChatMessageHistory(READ_SESSION, connection=self.engine)
        self.writer = SQLChatMessageHistory(WRITE_SESSION, connection=self.engine)
        self.operations = {
            "history": self._history,
            "turn": lambda: self.writer.aadd_messages(
                [HumanMessage(content=QUESTION), AIMessage(content=ANSWER)]
            ),
        }

    async def _history(self) -> list[BaseMessage]:
        return (await self.reader.aget_messages())[-PAGE:]

    async def texts(self) -> list[str]:
        """The texts of the measured session's latest messages, oldest first."""
        return [str(message.content) for message in await self._history()]

    async def create_tables(self) -> None:
        """Make LangChain create its table."""
        await self.reader.aget_messages()

    async def close(self) -> None:
        await self.engine.dispose()


def _agents_payload(role: str, content: str) -> str:
    return json.dumps({"role": role, "content": content})


def _langchain_payload(role: str, content: str) -> str:
    message = HumanMessage(content=content) if role == "user" else AIMessage(content=content)
    return json.dumps(message_to_dict(message))


def _sessions(
    shape: Shape, first: int, last: int, target: bool
) -> Iterator[tuple[str, str, int, int]]:
    """(session, the todochat user and conversation whose messages it holds, how many)."""
    if target:
        yield READ_SESSION, TARGET_USER, MEASURED, shape.deep_messages
    for user in range(first, last):
        for conversation in range(1, shape.user_conversations + 1):
            session = f"{background_user(user)}-{conversation}"
            yield session, background_user(user), conversation, shape.user_messages


def seed_anchors(
    url: str, shape: Shape, first: int, last: int, *, target: bool, progress: Progress
) -> None:
    """Give the anchors the measured conversation and the background users' conversations.

    Each holds the same messages as todochat's conversation of the same number, each message
    stamped with its own time as one `add_items` call after another would stamp it: the Agents
    SDK orders a session by time, and a session whose items all share one time must be sorted
    whole to find its latest ones, which real use never gives.
    """
    texts = Texts()
    sessions = list(_sessions(shape, first, last, target))

    def rows(payload: Any) -> Iterator[tuple[Any, ...]]:
        for session, user, conversation, count in sessions:
            start = EPOCH + timedelta(hours=conversation)  # as seed.py starts conversations
            for row in messages(texts, user, conversation, count, start):
                # The SDK's column is a naive timestamp, which CURRENT_TIMESTAMP fills in UTC.
                yield session, payload(row[3], row[4]), row[7].replace(tzinfo=None)

    with sink(url, progress) as out:
        out.write("agent_sessions", ((s,) for s, *_ in sessions))
        out.write("agent_messages", rows(_agents_payload))
        out.write("message_store", (row[:2] for row in rows(_langchain_payload)))
