"""Retention: what was soft-deleted before a cutoff is deleted for good, in short batches.

The one job that works across users: it finds what has expired with a query over everyone's
soft-deleted rows (the partial indexes `ix_*_user_deleted` hold only those; on PostgreSQL
through `Database.all_users`, which row-level security lets see every user), then deletes each
user's share through that user's stores, at most `batch` rows per transaction, so no
transaction holds locks (or SQLite's write lock) for long.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from todochat.conversations.models import Conversation, Message
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.orm import utcnow

log = logging.getLogger("todochat.retention")
BATCH = 500
# How often `serve` purges when RETENTION_DAYS is set.
PURGE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Summary:
    """What a purge deletes: conversations with their messages, and deleted messages elsewhere."""

    conversations: int = 0
    conversation_messages: int = 0
    messages: int = 0

    @property
    def rows(self) -> int:
        """Every row deleted."""
        return self.conversations + self.conversation_messages + self.messages

    def __add__(self, other: "Summary") -> "Summary":
        return Summary(
            self.conversations + other.conversations,
            self.conversation_messages + other.conversation_messages,
            self.messages + other.messages,
        )


_JOINED = and_(Conversation.user_id == Message.user_id, Conversation.id == Message.conversation_id)


class Retention:
    """Purges of one database."""

    def __init__(self, database: Database, *, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("a batch holds at least one row")
        self.database = database
        self.batch = batch

    async def count(self, deleted_before: datetime) -> Summary:
        """What `purge(deleted_before)` would delete now."""
        expired = Conversation.deleted_at < deleted_before
        kept = or_(Conversation.deleted_at.is_(None), Conversation.deleted_at >= deleted_before)
        async with self.database.all_users() as connection:
            conversations = await connection.scalar(
                select(func.count()).select_from(Conversation).where(expired)
            )
            inside = await connection.scalar(
                select(func.count()).select_from(Message).join(Conversation, _JOINED).where(expired)
            )
            loose = await connection.scalar(
                select(func.count())
                .select_from(Message)
                .join(Conversation, _JOINED)
                .where(Message.deleted_at < deleted_before, kept)
            )
        return Summary(conversations or 0, inside or 0, loose or 0)

    async def purge(
        self, deleted_before: datetime, progress: Callable[[int], None] = lambda rows: None
    ) -> Summary:
        """Delete for good what was soft-deleted before `deleted_before`; `progress(rows)`
        hears of each batch.
        """
        done = Summary()
        while expired := await self._expired_conversations(deleted_before):
            for user_id, number in expired:
                while True:
                    async with self.database.transaction(user_id) as session:
                        step = await ConversationStore(session, user_id).purge(
                            number, deleted_before, self.batch
                        )
                    done += Summary(step.conversations, step.messages)
                    progress(step.conversations + step.messages)
                    if step.conversations or not step.messages:
                        break
        while expired_messages := await self._expired_messages(deleted_before):
            for user_id, keys in expired_messages.items():
                async with self.database.transaction(user_id) as session:
                    count = await MessageStore(session, user_id).purge(keys, deleted_before)
                done += Summary(messages=count)
                progress(count)
        return done

    async def _expired_conversations(self, deleted_before: datetime) -> list[tuple[str, int]]:
        async with self.database.all_users() as connection:
            rows = await connection.execute(
                select(Conversation.user_id, Conversation.id)
                .where(Conversation.deleted_at < deleted_before)
                .limit(self.batch)
            )
            return [(user_id, number) for user_id, number in rows]

    async def _expired_messages(self, deleted_before: datetime) -> dict[str, list[tuple[int, int]]]:
        async with self.database.all_users() as connection:
            rows = await connection.execute(
                select(Message.user_id, Message.conversation_id, Message.seq)
                .where(Message.deleted_at < deleted_before)
                .limit(self.batch)
            )
            by_user: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for user_id, conversation_id, seq in rows:
                by_user[user_id].append((conversation_id, seq))
            return by_user


async def purge_periodically(database: Database, days: int, every: timedelta = PURGE_EVERY) -> None:
    """Purge what was soft-deleted more than `days` days ago, now and then every `every`."""
    retention = Retention(database)
    while True:
        try:
            done = await retention.purge(utcnow() - timedelta(days=days))
            if done.rows:
                log.info(
                    "purged %d conversations (%d messages) and %d deleted messages",
                    done.conversations,
                    done.conversation_messages,
                    done.messages,
                )
        except Exception:
            log.exception("the periodic purge failed; it runs again later")
        await asyncio.sleep(every.total_seconds())
