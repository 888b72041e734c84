"""The same reads and task creation through the HTTP API: routing, auth and JSON included."""

import itertools
import secrets
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx

from todochat.app import create_app
from todochat.bench.contenders import (
    CONVERSATIONS_PAGE,
    MEASURED,
    PAGE,
    SEARCH_HITS,
    SEARCHES,
    Contender,
)
from todochat.bench.dataset import SEARCH_USER, TARGET_USER, Shape
from todochat.config import Settings
from todochat.users.tokens import issue_token


class HttpApi(Contender):
    """The FastAPI application in process, called over ASGI with a bearer token."""

    name = "HTTP API (in process)"

    def __init__(self, url: str, shape: Shape) -> None:
        super().__init__()
        secret = secrets.token_urlsafe(48)
        # The benchmark's one user writes far beyond any per-user budget: no limits here.
        settings = Settings(
            _env_file=None,
            database_url=url,
            better_auth_secret=secret,
            rate_limit_writes="",
            rate_limit_chat="",
        )
        self.app = create_app(settings)
        token = issue_token(secret, TARGET_USER, lifetime=timedelta(hours=1))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=f"http://todochat/api/{TARGET_USER}",
            headers={"Authorization": f"Bearer {token}"},
        )
        searcher = issue_token(secret, SEARCH_USER, lifetime=timedelta(hours=1))
        self._searcher = {"Authorization": f"Bearer {searcher}"}
        self._searches = itertools.cycle(SEARCHES)
        self._stack = AsyncExitStack()
        messages = f"/conversations/{MEASURED}/messages"
        older = shape.deep_messages // 2
        self.operations = {
            "history": lambda: self._get(messages, limit=PAGE),
            "older": lambda: self._get(messages, limit=PAGE, before=older),
            "conversations": lambda: self._get("/conversations", limit=CONVERSATIONS_PAGE),
            "tasks": lambda: self._get("/tasks", status="pending", limit=PAGE),
            "create_task": self._create_task,
            "search": self._search,
        }

    async def start(self) -> None:
        """Run the application's startup."""
        await self._stack.enter_async_context(self.app.router.lifespan_context(self.app))

    async def _get(self, path: str, **query: str | int) -> object:
        response = await self.client.get(path, params=query)
        response.raise_for_status()
        return response.json()

    async def _search(self) -> object:
        response = await self.client.get(
            f"http://todochat/api/{SEARCH_USER}/search",
            params={"q": next(self._searches), "limit": SEARCH_HITS},
            headers=self._searcher,
        )
        response.raise_for_status()
        return response.json()

    async def _create_task(self) -> object:
        response = await self.client.post("/tasks", json={"title": "Renew"})
        response.raise_for_status()
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()
        await self._stack.aclose()
