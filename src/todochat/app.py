"""The FastAPI application: REST API, web pages, health checks, errors, middleware."""

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.routing import Route

from todochat import logs, migrate, problems
from todochat.api import documented
from todochat.chat.assistant import Assistant
from todochat.chat.configured import configured_assistant
from todochat.chat.routes import router as chat_router
from todochat.chat.turn import Chat
from todochat.config import Settings, get_settings
from todochat.conversations.routes import router as conversations_router
from todochat.db import Database
from todochat.errors import DatabaseUnavailable
from todochat.integrations.chatkit.routes import router as chatkit_router
from todochat.mcp.http import McpOverHttp
from todochat.mcp.server import build_server, request_identity
from todochat.middleware import LimitBody, RequestContext, StrictUrl
from todochat.ratelimit import RateLimits
from todochat.retention import purge_periodically
from todochat.search.routes import router as search_router
from todochat.tasks.routes import router as tasks_router
from todochat.transfer.routes import router as transfer_router
from todochat.users.auth import authenticator
from todochat.users.store import KnownUsers
from todochat.validation import INPUT_RULES
from todochat.web import pages

MAX_BODY_BYTES = 1024 * 1024


class Health(BaseModel):
    """Whether a part of the service works."""

    status: str
    detail: str | None = None


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    """The todochat API for the given settings (the environment's by default).

    The assistant is the one the settings configure, unless one is given.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(
            settings.database_url, echo=settings.debug, busy_timeout=settings.sqlite_busy_timeout
        )
        app.state.known_users = KnownUsers(app.state.database)
        app.state.authenticator = authenticator(settings)
        app.state.rate_limits = RateLimits(
            writes=settings.rate_limit_writes, chat=settings.rate_limit_chat
        )
        app.state.chat = Chat(
            app.state.database,
            assistant or configured_assistant(settings),
            app.state.known_users,
            deadline=settings.chat_turn_timeout,
            rate_limits=app.state.rate_limits,
        )
        purging = (
            asyncio.create_task(purge_periodically(app.state.database, settings.retention_days))
            if settings.retention_days
            else None
        )
        try:
            async with mcp.running():
                with _startup_frozen():
                    yield
        finally:
            if purging is not None:
                purging.cancel()
                await asyncio.gather(purging, return_exceptions=True)
            await app.state.chat.close()
            await app.state.database.dispose()

    app = FastAPI(
        title="todochat",
        summary="The backend of an AI assistant that manages people's tasks by conversation.",
        description=f"{INPUT_RULES}\n\nWrites and chat turns have per-user budgets (429, with"
        " `Retry-After`). Request heads are limited to 16 KiB (431), bodies to 1 MiB (413).",
        version="0.1.0",
        lifespan=lifespan,
        # Served by `pages` from installed files: the defaults load from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    # FastAPI's own document, with what the routes' dependencies read by hand (api.py).
    openapi = app.openapi
    app.openapi = lambda: documented(openapi())  # type: ignore[method-assign]
    mcp = McpOverHttp(
        build_server(
            lambda: app.state.known_users, request_identity, lambda: app.state.rate_limits
        ),
        lambda: app.state.authenticator,
    )
    # Stateless and answering in JSON, the transport has no event stream to open (GET) and no
    # session to end (DELETE): those are 405, as the MCP transport allows.
    app.router.routes.append(Route("/mcp", endpoint=mcp.endpoint, methods=["POST"]))
    # The routers' routes, on the application's own router: FastAPI matches a request against
    # an included router's routes once to choose it and again to choose among them (measured:
    # a request for a conversation's messages took 76 µs of CPU to reach its route, 38 µs so).
    for router in (
        tasks_router,
        conversations_router,
        chat_router,
        chatkit_router,
        search_router,
        transfer_router,
    ):
        app.router.routes.extend(router.routes)
    pages.install(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> Health:
        """The process is alive."""
        return Health(status="ok")

    @app.get("/readyz", tags=["health"], response_model=Health, responses={503: {"model": Health}})
    async def readyz(request: Request) -> Health | JSONResponse:
        """The database answers and its schema is current."""
        database: Database = request.app.state.database
        try:
            await database.ping()
            revision = await migrate.revision_of(database.reading_engine)
        except DatabaseUnavailable as down:
            return _unready(str(down))
        except Exception as error:
            return _unready(f"the database failed ({type(error).__name__})")
        if revision != migrate.head():
            return _unready(
                f"schema at {revision}, expected {migrate.head()}: run todochat db upgrade"
            )
        return Health(status="ok")

    if settings.cors_origins:  # with none allowed it would only add `Vary: Origin` everywhere
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(LimitBody, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(StrictUrl)
    app.add_middleware(RequestContext)
    return app


# Objects tracked by the collector, net of those freed, before it looks for cycles. Python's 700
# is crossed all the time by the requests in flight, whose objects then survive into the older
# generations and are traversed again: measured under 64 connections, collections took 9% of the
# server's CPU and made every request wait. Almost everything a request makes is freed by its
# reference count; at this threshold the collector runs a few times a minute.
YOUNG_THRESHOLD = 20_000


@contextmanager
def _startup_frozen() -> Iterator[None]:
    """What startup built, kept out of the collector's sight while the application serves, and
    the collector run far less often.

    Startup's objects live as long as the process: a full collection need not traverse them
    again and again.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)  # for a process that goes on, such as a test run
        gc.unfreeze()


def served() -> FastAPI:
    """The application as each of `todochat serve --workers N`'s processes builds it."""
    logs.configure()
    return create_app()


def _unready(detail: str) -> JSONResponse:
    return JSONResponse(Health(status="unavailable", detail=detail).model_dump(), status_code=503)
