"""The assistant in a terminal: the same turns, stored in the same database."""

import asyncio

from rich.console import Console

from todochat.chat.configured import configured_assistant
from todochat.chat.models import ChatRequest
from todochat.chat.turn import Chat
from todochat.config import Settings
from todochat.conversations.models import Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import TodochatError
from todochat.users.auth import Identity
from todochat.users.models import UserProfile
from todochat.users.store import KnownUsers
from todochat.validation import parse

SHOWN_HISTORY = 6
QUIT = {"exit", "quit", "bye", "/exit", "/quit"}


async def _resume(database: Database, user_id: str, console: Console) -> int | None:
    """The user's most recent conversation, its last messages shown; None if there is none."""
    async with database.read(user_id) as session:
        page = await ConversationStore(session, user_id).list(limit=1)
        if not page.items:
            return None
        conversation = page.items[0]
        recent = await MessageStore(session, user_id).latest(conversation.id, SHOWN_HISTORY)
    console.print(f"[dim]Resuming conversation {conversation.id}: {conversation.title or ''}[/]")
    for message in recent:
        if message.role is Role.TOOL:
            continue
        console.print(f"[dim]{message.role.value}> {message.content}[/]")
    return conversation.id


async def talk(settings: Settings, user_id: str, *, new: bool, console: Console) -> None:
    """Read messages from the terminal until end of input, answering each one."""
    database = Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    identity = Identity(user_id, UserProfile())
    users = KnownUsers(database)
    chat = Chat(
        database, configured_assistant(settings), users, deadline=settings.chat_turn_timeout
    )
    try:
        await users.ensure(identity)
        conversation = None if new else await _resume(database, user_id, console)
        console.print("[bold]todochat[/] — manage your tasks by talking. Type 'exit' to leave.")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            if line.strip().lower() in QUIT:
                break
            if not line.strip():
                continue
            try:
                request = parse(ChatRequest, {"message": line, "conversation_id": conversation})
                turn = await chat.start(
                    identity, request.message, conversation_id=request.conversation_id, stream=False
                )
                conversation = turn.conversation_id
                reply = await turn.reply()
            except TodochatError as error:
                console.print(f"[red]{error}[/]")
                continue
            console.print(f"[green]todochat>[/] {reply.response}")
    finally:
        await chat.close()
        await database.dispose()
