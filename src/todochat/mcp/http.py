"""The MCP server over streamable HTTP, behind the API's bearer tokens."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from todochat.errors import AuthUnavailable, Unauthenticated
from todochat.mcp.server import IDENTITY
from todochat.problems import problem_of
from todochat.users.auth import Authenticator, bearer_token


class McpAuth:
    """Lets through only requests whose bearer token verifies, recording whom it is for."""

    def __init__(self, app: ASGIApp, authenticator: Callable[[], Authenticator]) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            token = bearer_token(Headers(scope=scope).get("authorization", ""))
            identity = await self.authenticator().verify(token)
        except (Unauthenticated, AuthUnavailable) as error:
            await problem_of(error).response()(scope, receive, send)
            return
        scope.setdefault("state", {})[IDENTITY] = identity
        await self.app(scope, receive, send)


class McpOverHttp:
    """The `/mcp` endpoint: stateless streamable HTTP answering in JSON, behind `McpAuth`."""

    def __init__(self, server: Server[Any], authenticator: Callable[[], Authenticator]) -> None:
        self._sessions = StreamableHTTPSessionManager(
            app=server,
            json_response=True,
            stateless=True,
            # Requests carry bearer tokens, never ambient cookies, so a rebound DNS name gains
            # an attacker nothing; the Host check would only refuse real deployments.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.endpoint = McpAuth(StreamableHTTPASGIApp(self._sessions), authenticator)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session manager for as long as the block lasts."""
        # The manager must be entered and left by one task; a lifespan's start and end may
        # run in different ones, so a task of our own holds it.
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self._sessions.run():
                started.set()
                await stop.wait()

        holder = asyncio.create_task(hold())
        ready = asyncio.create_task(started.wait())
        await asyncio.wait([holder, ready], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if holder.done():
            holder.result()  # raises what stopped it
        try:
            yield
        finally:
            stop.set()
            await holder
