"""Chat turns: short transactions around the model's long think, one turn per conversation."""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from todochat.chat.assistant import Assistant, Said
from todochat.chat.idempotency import Answer, IdempotencyKeys, fingerprint
from todochat.chat.models import ChatResponse
from todochat.chat.tools import TaskTools, ToolCall
from todochat.conversations.models import ConversationCreate, MessageCreate, MessageView, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import AssistantUnavailable, DatabaseUnavailable, Invalid, TurnFailed
from todochat.orm import utcnow
from todochat.ratelimit import RateLimits
from todochat.users.auth import Identity
from todochat.users.store import KnownUsers

log = logging.getLogger("todochat.chat")
# Earlier messages the assistant sees, cut to whole turns: a person's message, the tool calls
# it led to (each call and its result in one `tool` message), the answer.
HISTORY_WINDOW = 40
# After its deadline a turn still has this long (or the deadline again, if shorter) to store
# what it answered; then its claim on the conversation expires, whatever became of the process.
FINISH_GRACE = timedelta(seconds=10)
# While the database cannot store the answer, storing it is tried again after this pause,
# doubled each time up to the longest, until the turn's claim runs out.
FINISH_RETRY_SECONDS = (0.25, 5.0)
TITLE_CHARS = 80
NOTICE = "Sorry, I couldn't answer just now. Please try again."


@dataclass(frozen=True)
class Delta:
    """A piece of the answer, as the assistant wrote it."""

    text: str


@dataclass(frozen=True)
class ToolRan:
    """A tool call the assistant made, once it ran (and was recorded)."""

    call: ToolCall


@dataclass(frozen=True)
class Answered:
    """The turn's answer, stored."""

    reply: ChatResponse


@dataclass(frozen=True)
class Failed:
    """The turn could not be answered; `error` says why."""

    error: Exception


Event = Delta | ToolRan | Answered | Failed


class RunningTurn:
    """A turn under way: its conversation, and the events of its answer as they come."""

    def __init__(self, conversation_id: int, events: "asyncio.Queue[Event]") -> None:
        self.conversation_id = conversation_id
        self._events = events

    @classmethod
    def replayed(cls, answer: Answer) -> "RunningTurn":
        """The turn an idempotency key already answered, told again."""
        events: asyncio.Queue[Event] = asyncio.Queue()
        conversation_id = answer.conversation_id or 0
        if answer.status_code == 200:
            reply = ChatResponse.model_validate(answer.body)
            events.put_nowait(Delta(reply.response))
            events.put_nowait(Answered(reply))
        else:
            events.put_nowait(Failed(TurnFailed(conversation_id, answer.body["reason"])))
        return cls(conversation_id, events)

    async def events(self) -> AsyncIterator[Event]:
        """The answer's events, up to and including `Answered` or `Failed`."""
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, Answered | Failed):
                return

    async def reply(self) -> ChatResponse:
        """The answer, once it is stored; raises what made the turn fail."""
        async for event in self.events():
            if isinstance(event, Answered):
                return event.reply
            if isinstance(event, Failed):
                raise event.error
        raise RuntimeError("the turn ended without an answer")


@dataclass(frozen=True)
class _Asked:
    user_id: str
    message: str
    conversation_id: int | None
    key: str | None
    stream: bool
    reply_key: str | None = None  # the key to store the answer under


@dataclass(frozen=True)
class _Opened:
    conversation_id: int
    history: list[Said]
    until: datetime  # the turn's claim on the conversation


class Chat:
    """The chat turns of one process: its database, its assistant, the turns under way.

    A turn opens with one short transaction (the conversation claimed for the turn, the
    person's message stored, the history read), lets the assistant think holding no
    connection, lock or transaction, and ends with one short transaction storing the answer.
    Each tool call commits on its own, with its record. A turn runs to its end even when its
    client goes away, so that what it did is stored whole.
    """

    def __init__(
        self,
        database: Database,
        assistant: Assistant,
        users: KnownUsers,
        *,
        deadline: float,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self._database = database
        self._assistant = assistant
        self._users = users
        self._deadline = deadline
        self._rate_limits = rate_limits
        self._running: set[asyncio.Task[None]] = set()

    async def start(
        self,
        identity: Identity,
        message: str,
        *,
        conversation_id: int | None = None,
        key: str | None = None,
        stream: bool = True,
    ) -> RunningTurn:
        """Store the message and set the assistant answering it (piece by piece if `stream`).

        Raises before anything runs: `NotFound` for no such conversation, `TurnInProgress`
        while another turn holds it, `Invalid` for a key reused on another request,
        `RateLimited` when the user has spent their budget of turns (only turns that would run
        spend it: not a retry answered again, nor a refused one).
        """
        await self._users.ensure(identity)
        asked = _Asked(identity.user_id, message, conversation_id, key, stream)
        opened = await self._open(asked, until=self._until())
        if isinstance(opened, Answer):
            return RunningTurn.replayed(opened)
        return self._run(asked, opened)

    async def answer(
        self, identity: Identity, conversation_id: int, seq: int, *, reply_key: str | None = None
    ) -> RunningTurn:
        """Set the assistant answering message `seq`, a person's message already stored.

        For a client that stores the person's messages itself, and to answer one again. The
        answer is stored under `reply_key`, if given. Raises before anything runs: `NotFound`
        for no such conversation or message, `TurnInProgress` while another turn holds the
        conversation, `Invalid` for a message that is not a person's, `RateLimited` when the
        user has spent their budget of turns.
        """
        await self._users.ensure(identity)
        user_id = identity.user_id
        message, opened = await self._open_stored(user_id, conversation_id, seq, self._until())
        asked = _Asked(user_id, message, conversation_id, None, stream=True, reply_key=reply_key)
        return self._run(asked, opened)

    def _until(self) -> datetime:
        deadline = timedelta(seconds=self._deadline)
        return utcnow() + deadline + min(deadline, FINISH_GRACE)

    def _run(self, asked: _Asked, opened: _Opened) -> RunningTurn:
        events: asyncio.Queue[Event] = asyncio.Queue()
        task = asyncio.create_task(self._answer(asked, opened, events))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return RunningTurn(opened.conversation_id, events)

    async def close(self, grace: float = 10) -> None:
        """Let the turns under way finish, for up to `grace` seconds; cancel the rest."""
        if self._running:
            _, late = await asyncio.wait(self._running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._assistant.close()

    async def _open(self, asked: _Asked, *, until: datetime) -> _Opened | Answer:
        user_id, message, conversation_id = asked.user_id, asked.message, asked.conversation_id
        async with self._database.transaction(user_id) as session:
            if asked.key is not None:
                request = fingerprint(conversation_id=conversation_id, message=message)
                first = await IdempotencyKeys(session, user_id).claim(asked.key, request, until)
                if first is not None:
                    return first
            messages = MessageStore(session, user_id)
            started = conversation_id is None
            if conversation_id is None:
                conversations = ConversationStore(session, user_id)
                created = await conversations.create(ConversationCreate(title=title_of(message)))
                conversation_id = created.id
            # Storing the person's message claims the conversation for the turn.
            [person] = await messages.append(
                conversation_id, [MessageCreate(role=Role.USER, content=message)], claim=until
            )
            window = HISTORY_WINDOW
            earlier = [] if started else await messages.before(conversation_id, person.seq, window)
            if self._rate_limits is not None:  # refused: the transaction takes nothing
                await self._rate_limits.spend("chat turns", user_id)
        return _Opened(conversation_id, _window(earlier), until)

    async def _open_stored(
        self, user_id: str, conversation_id: int, seq: int, until: datetime
    ) -> tuple[str, _Opened]:
        async with self._database.transaction(user_id) as session:
            await ConversationStore(session, user_id).claim_turn(conversation_id, until)
            messages = MessageStore(session, user_id)
            person = await messages.get(conversation_id, seq)
            if person.role is not Role.USER:
                raise Invalid.field("seq", "is not a person's message")
            earlier = await messages.before(conversation_id, seq, HISTORY_WINDOW)
            if self._rate_limits is not None:  # refused: the transaction takes nothing
                await self._rate_limits.spend("chat turns", user_id)
        return person.content, _Opened(conversation_id, _window(earlier), until)

    async def _answer(self, asked: _Asked, opened: _Opened, events: "asyncio.Queue[Event]") -> None:
        number = opened.conversation_id
        tools = TaskTools(
            self._database,
            asked.user_id,
            conversation_id=number,
            on_call=lambda call: events.put_nowait(ToolRan(call)),
        )
        pieces: list[str] = []
        try:
            try:
                async with asyncio.timeout(self._deadline):
                    async for piece in self._assistant.respond(
                        opened.history, asked.message, tools, stream=asked.stream
                    ):
                        # PostgreSQL text cannot hold NUL; what a person sees is what is stored.
                        pieces.append(piece.replace("\x00", "\ufffd"))
                        events.put_nowait(Delta(pieces[-1]))
            except Exception as error:
                reason = _reason(error, self._deadline)
                notice = MessageCreate(
                    key=asked.reply_key,
                    role=Role.ASSISTANT,
                    content=NOTICE,
                    metadata={"error": "assistant_unavailable", "detail": reason},
                )
                failure = Answer(502, {"reason": reason}, number)
                await self._finish(asked, opened, notice, failure)
                events.put_nowait(Failed(TurnFailed(number, reason)))
                return
            reply = ChatResponse(
                conversation_id=number,
                response="".join(pieces),
                tool_calls=[call.public() for call in tools.calls],
            )
            answer = MessageCreate(key=asked.reply_key, role=Role.ASSISTANT, content=reply.response)
            await self._finish(asked, opened, answer, Answer(200, reply.model_dump(), number))
            events.put_nowait(Answered(reply))
        except Exception as error:  # storing failed; the claim expires on its own
            log.exception("a chat turn could not store its answer")
            events.put_nowait(Failed(error))
        except asyncio.CancelledError:
            events.put_nowait(Failed(TurnFailed(number, "the server is stopping")))
            raise

    async def _finish(
        self, asked: _Asked, opened: _Opened, said: MessageCreate, answer: Answer
    ) -> None:
        """Store what the turn said, which ends it; while the database is unavailable, try
        again until the turn's claim runs out. Meanwhile a client that retries is told the
        turn is under way (409), then gets this answer: not a second run of the turn, which
        would store the person's message again and repeat the tools' changes."""
        pause, longest = FINISH_RETRY_SECONDS
        while True:
            try:
                await self._store(asked, opened, said, answer)
                return
            except DatabaseUnavailable:
                if utcnow() + timedelta(seconds=pause) >= opened.until:
                    raise
            log.warning("the database is unavailable; storing a chat answer again in %g s", pause)
            await asyncio.sleep(pause)
            pause = min(2 * pause, longest)

    async def _store(
        self, asked: _Asked, opened: _Opened, said: MessageCreate, answer: Answer
    ) -> None:
        user_id, number = asked.user_id, opened.conversation_id
        async with self._database.transaction(user_id) as session:
            # Storing the answer ends the turn.
            await MessageStore(session, user_id).append(number, [said], release=opened.until)
            if asked.key is not None:
                await IdempotencyKeys(session, user_id).settle(asked.key, answer)


def _reason(error: Exception, deadline: float) -> str:
    if isinstance(error, AssistantUnavailable):
        return str(error)
    if isinstance(error, TimeoutError):
        return f"no answer within {deadline:g} s"
    log.error("the assistant failed", exc_info=error)
    return f"the assistant failed ({type(error).__name__})"


def _window(messages: Sequence[MessageView]) -> list[Said]:
    """Whole turns, from the first person's message on; failure notices are for people only."""
    said = [Said.of(m) for m in messages if not (m.meta or {}).get("error")]
    first = next((i for i, s in enumerate(said) if s.role is Role.USER), len(said))
    return said[first:]


def title_of(message: str) -> str:
    """A conversation's title from its first message: one line, cut at a word near 80 chars."""
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
