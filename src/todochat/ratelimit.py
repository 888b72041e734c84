"""Per-user rate limits on writes and on chat turns (the model is the expensive part).

Counted by `limits` in the memory of each process: a deployment of several processes allows
each user that many times their number.
"""

import math
import time
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from todochat.errors import RateLimited

Budget = Literal["writes", "chat turns"]


def parse_budget(text: str) -> list[RateLimitItem]:
    """The limits `text` names ("120/minute", "20/minute;200/hour"); none for "" or "0"."""
    text = text.strip()
    return [] if text in ("", "0") else parse_many(text)


class RateLimits:
    """The budgets each user has, for writes and for chat turns."""

    def __init__(self, *, writes: str, chat: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._budgets: dict[Budget, list[RateLimitItem]] = {
            "writes": parse_budget(writes),
            "chat turns": parse_budget(chat),
        }

    async def spend(self, budget: Budget, user_id: str) -> None:
        """Take one from `user_id`'s `budget`, or raise `RateLimited` if it is spent."""
        for limit in self._budgets[budget]:
            if not await self._limiter.hit(limit, budget, user_id):
                reset_at, _ = await self._limiter.get_window_stats(limit, budget, user_id)
                raise RateLimited(budget, max(1, math.ceil(reset_at - time.time())))
