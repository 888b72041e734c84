"""Idempotency keys: a retried chat request gets its first answer instead of a second turn."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql

from todochat.chat.models import IdempotencyKey
from todochat.db import CompiledWrite, Store
from todochat.errors import Invalid, TurnInProgress
from todochat.orm import table, utcnow

# Keys are kept at least this long; older ones of the same user go when a new one comes.
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class Answer:
    """What a turn answered: the HTTP status and body, and the conversation it was in."""

    status_code: int
    body: dict[str, Any]
    conversation_id: int | None


def fingerprint(**request: object) -> str:
    """A hash of what a request asks, to tell a retry from another request under the same key."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


_KEYS = table(IdempotencyKey).c
# A turn with a key runs these each time: compiled once.
_EXPIRE = CompiledWrite(
    delete(table(IdempotencyKey)).where(
        _KEYS.user_id == bindparam("user_id"),
        _KEYS.created_at < bindparam("before", type_=_KEYS.created_at.type),
    )
)
# The same ON CONFLICT DO NOTHING in both backends' SQL.
_TAKE = CompiledWrite(
    postgresql.insert(table(IdempotencyKey)).on_conflict_do_nothing().returning(_KEYS.key),
    columns=("user_id", "key", "fingerprint", "pending_until", "created_at"),
)
_SETTLE = CompiledWrite(
    update(table(IdempotencyKey))
    .where(_KEYS.user_id == bindparam("user_id"), _KEYS.key == bindparam("key"))
    .values(
        status_code=bindparam("status_code", type_=_KEYS.status_code.type),
        response=bindparam("response", type_=_KEYS.response.type),
        conversation_id=bindparam("conversation_id", type_=_KEYS.conversation_id.type),
        pending_until=None,
    )
)


class IdempotencyKeys(Store):
    """One user's idempotency keys."""

    def _key(self, key: str) -> Any:
        return (IdempotencyKey.user_id == self.user_id) & (IdempotencyKey.key == key)

    async def claim(self, key: str, request: str, until: datetime) -> Answer | None:
        """Take `key` for a turn running until `until`, or the answer its first request got.

        Raises `TurnInProgress` while the first request is still being answered, and `Invalid`
        when the key was used for a different request.
        """
        now = utcnow()
        await _EXPIRE.execute(self.session, user_id=self.user_id, before=now - RETENTION)
        taken = await _TAKE.returning(
            self.session,
            user_id=self.user_id,
            key=key,
            fingerprint=request,
            pending_until=until,
            created_at=now,
        )
        if taken:
            return None
        first = (
            await self.session.execute(
                select(
                    IdempotencyKey.fingerprint,
                    IdempotencyKey.pending_until,
                    IdempotencyKey.status_code,
                    IdempotencyKey.response,
                    IdempotencyKey.conversation_id,
                ).where(self._key(key))
            )
        ).one()
        if first.fingerprint != request:
            raise Invalid.field("Idempotency-Key", "was already used for a different request")
        if first.status_code is not None:
            return Answer(first.status_code, first.response or {}, first.conversation_id)
        if first.pending_until is not None and first.pending_until > now:
            raise TurnInProgress(first.conversation_id)
        # The first request's turn died with its process: this retry runs the turn.
        await self.session.execute(
            update(IdempotencyKey).where(self._key(key)).values(pending_until=until, created_at=now)
        )
        return None

    async def settle(self, key: str, answer: Answer) -> None:
        """Keep the answer the key's turn gave, for its retries."""
        await _SETTLE.execute(
            self.session,
            user_id=self.user_id,
            key=key,
            status_code=answer.status_code,
            response=answer.body,
            conversation_id=answer.conversation_id,
        )
