"""An MCP server exposing the five task tools for the user the transport authenticated."""

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from todochat.chat.tools import TOOLS, UNREACHABLE, TaskTools
from todochat.errors import DatabaseUnavailable, RateLimited, ToolError
from todochat.ratelimit import RateLimits
from todochat.users.auth import Identity
from todochat.users.store import KnownUsers

log = logging.getLogger("todochat.mcp")
Context = ServerRequestContext[Any, Any]
IDENTITY = "todochat_identity"
# Every other tool changes tasks, and so spends from the user's budget of writes.
READ_ONLY_TOOLS = frozenset({"list_tasks"})


def fixed_identity(identity: Identity) -> Callable[[Context], Identity]:
    """Every call acts for one user, as over stdio where the command line names them."""
    return lambda _: identity


def request_identity(context: Context) -> Identity:
    """The user the HTTP request authenticated (set by `McpAuth`)."""
    request = context.request
    identity = getattr(getattr(request, "state", None), IDENTITY, None)
    if not isinstance(identity, Identity):
        raise ToolError("This request is not authenticated.")
    return identity


def build_server(
    users: Callable[[], KnownUsers],
    identify: Callable[[Context], Identity],
    rate_limits: Callable[[], RateLimits] | None = None,
) -> Server[Any]:
    """A server whose tools act, each in its own transaction, for the user `identify` names
    (within their budget of writes, when `rate_limits` gives one)."""

    async def list_tools(
        _: Context, __: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(name=tool.name, description=tool.description, input_schema=tool.schema())
                for tool in TOOLS.values()
            ]
        )

    async def call_tool(
        context: Context, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            identity = identify(context)
            if rate_limits is not None and params.name not in READ_ONLY_TOOLS:
                await rate_limits().spend("writes", identity.user_id)
        except RateLimited as error:
            return _refusal(f"Too many changes at once: try again in {error.retry_after} seconds.")
        except ToolError as error:
            return _refusal(str(error))
        known = users()
        tools = TaskTools(known.database, identity.user_id)
        try:
            await known.ensure(identity)
            with contextlib.suppress(ToolError):  # the call says what went wrong
                await tools.call(params.name, params.arguments or {})
        except DatabaseUnavailable as down:  # the user could not be stored
            return _refusal(UNREACHABLE.format(seconds=down.retry_after))
        except Exception:  # its text may carry SQL or addresses: the log keeps it
            log.exception("the MCP tool %s failed", params.name)
            return _refusal("The server failed to do that; try again later.")
        call = tools.calls[-1]
        if call.error is not None:
            return _refusal(call.error)
        result = call.result
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=call.output())],
            # Structured content is an object; a list travels under "result".
            structured_content=result if isinstance(result, dict) else {"result": result},
        )

    return Server(
        "todochat",
        instructions="Manage the signed-in user's to-do list: add, list, complete, delete"
        " and update tasks. Tasks are numbered 1, 2, 3… per user.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _refusal(sentence: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=sentence)], is_error=True
    )
