"""The MCP server over stdio, acting for the one user named on the command line."""

from mcp.server.stdio import stdio_server

from todochat.db import Database
from todochat.mcp.server import build_server, fixed_identity
from todochat.users.auth import Identity
from todochat.users.store import KnownUsers


async def serve_stdio(database: Database, identity: Identity) -> None:
    """Serve the task tools on stdin and stdout until the client goes away."""
    users = KnownUsers(database)
    server = build_server(lambda: users, fixed_identity(identity))
    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await database.dispose()
