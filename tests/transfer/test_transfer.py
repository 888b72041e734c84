import asyncio
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import ApiUser, PostgresServer
from todochat import migrate
from todochat.conversations.models import (
    Conversation,
    ConversationCreate,
    Message,
    MessageCreate,
    Role,
)
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import AccountInUse, Invalid, NotFound
from todochat.tasks.models import Priority, Task, TaskCreate, TaskUpdate
from todochat.tasks.store import TaskStore
from todochat.transfer.export import export_pages
from todochat.transfer.format import header, line
from todochat.transfer.load import import_lines
from todochat.users.models import User, UserProfile
from todochat.users.store import UserStore

OTHER = {"sqlite": "postgresql", "postgresql": "sqlite"}


@contextmanager
def fresh(backend: str, folder: Path) -> Iterator[str]:
    """A new database migrated to head; its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
        migrate.upgrade(url)
        yield url
        return
    server = PostgresServer()
    url = server.create()
    try:
        migrate.upgrade(url)
        yield url
    finally:
        server.drop(url)


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Database]:
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


async def exported(database: Database, user_id: str) -> bytes:
    return b"".join(["".join(page).encode() async for page in export_pages(database, user_id)])


async def fill(database: Database, user_id: str) -> None:
    """Everything an account can hold: holes in the numbers, soft deletes, edits, JSON, Unicode."""
    async with database.transaction(user_id) as session:
        await UserStore(session, user_id).ensure(UserProfile(email="a@example.com", name="Zoë"))
        tasks = TaskStore(session, user_id)
        await tasks.create(TaskCreate(title="Buy milk 🥛", tags=["home", "ünï"]))
        await tasks.create(TaskCreate(title="Gone", description="deleted later"))
        await tasks.create(
            TaskCreate(title="Pay bills", description='line one\nline two\t"quoted"')
        )
        await tasks.update(3, TaskUpdate(completed=True, priority=Priority.HIGH))
        await tasks.delete(2)
        conversations = ConversationStore(session, user_id)
        messages = MessageStore(session, user_id)
        meta = {"z": [1, 2.5, {"b": None, "a": True}], "a": "ä", "n": -0.0001}
        await conversations.create(ConversationCreate(title="Errands", metadata=meta))
        await messages.append(
            1,
            [
                MessageCreate(role=Role.USER, content="add buy milk\r\nplease"),
                MessageCreate(
                    role=Role.TOOL,
                    content='{"task_id": 1}',
                    tool_calls=[{"tool": "add_task", "arguments": {"title": "Buy milk"}}],
                    tool_results=[{"tool": "add_task", "result": {"task_id": 1}}],
                ),
                MessageCreate(role=Role.ASSISTANT, content="Added", metadata={"k": "v"}),
                MessageCreate(role=Role.USER, content="oops, a secret"),
            ],
        )
        await messages.edit(1, 1, "add buy milk")
        await messages.delete(1, 4)
        for title in ("Archived", "Deleted", "Empty"):
            await conversations.create(ConversationCreate(title=title))
        await messages.append(2, [MessageCreate(role=Role.USER, content="old news")])
        await messages.append(3, [MessageCreate(role=Role.USER, content="gone")])
        await conversations.archive(2)
        await conversations.soft_delete(3)
        await conversations.create(ConversationCreate())
        await conversations.delete(5)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_export_imported_into_the_other_backend_exports_byte_for_byte_the_same(
    backend: str, tmp_path: Path
) -> None:
    user_id = "transfer-user"
    with fresh(backend, tmp_path) as source_url, fresh(OTHER[backend], tmp_path) as target_url:
        async with opened(source_url) as source, opened(target_url) as target:
            await fill(source, user_id)
            first = await exported(source, user_id)
            imported = await import_lines(target, io.BytesIO(first))
            again = await exported(target, user_id)
            async with target.transaction(user_id) as session:
                task = await TaskStore(session, user_id).create(TaskCreate(title="next"))
                conversation = await ConversationStore(session, user_id).create()
                [message] = await MessageStore(session, user_id).append(
                    1, [MessageCreate(role=Role.USER, content="next")]
                )
    assert again == first
    assert (imported.tasks, imported.conversations, imported.messages) == (2, 4, 6)
    assert (task.id, conversation.id, message.seq) == (4, 6, 5)  # the counters came along
    rows = [json.loads(text) for text in first.decode().splitlines()]
    assert [row["type"] for row in rows] == [
        "todochat-export", "user", "task", "task",
        "conversation", "message", "message", "message", "message",
        "conversation", "message", "conversation", "message", "conversation",
    ]  # fmt: skip
    assert rows[1]["last_task_id"] == 3
    assert rows[4]["metadata"] == {"a": "ä", "n": -0.0001, "z": [1, 2.5, {"a": True, "b": None}]}
    assert rows[5]["metadata"]["previous_content"] == "add buy milk\r\nplease"
    assert rows[8]["deleted_at"].endswith("Z")
    assert "🥛" in first.decode()  # UTF-8, not escapes


async def test_the_owner_downloads_their_export_over_http(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, database: Database
) -> None:
    await client.post(alice.url("/tasks"), json={"title": "Mine"}, headers=alice.headers)
    response = await client.get(alice.url("/export"), headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content == await exported(database, alice.id)
    assert [json.loads(text)["type"] for text in response.text.splitlines()] == [
        "todochat-export",
        "user",
        "task",
    ]
    other = await client.get(alice.url("/export"), headers=bob.headers)
    assert other.status_code == 403
    fresh_user = await client.get(bob.url("/export"), headers=bob.headers)
    assert len(fresh_user.text.splitlines()) == 2


async def test_exporting_a_user_that_does_not_exist_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        await exported(database, f"nobody-{uuid.uuid4().hex}")


def synthetic(tasks: int, **user: Any) -> list[str]:
    """A valid export file of `tasks` tasks and one conversation of two messages, as lines."""
    at = "2026-01-01T00:00:00.000000Z"
    lines = [
        header(),
        line(
            "user",
            {
                "id": "file-user",
                "email": None,
                "name": None,
                "created_at": at,
                "updated_at": at,
                "last_task_id": tasks,
                "last_conversation_id": 1,
                **user,
            },
        ),
    ]
    lines += [
        line(
            "task",
            {
                "id": n,
                "title": f"task {n}",
                "description": None,
                "completed": False,
                "priority": "none",
                "tags": [],
                "created_at": at,
                "updated_at": at,
                "completed_at": None,
            },
        )
        for n in range(1, tasks + 1)
    ]
    lines.append(
        line(
            "conversation",
            {
                "id": 1,
                "title": None,
                "metadata": None,
                "created_at": at,
                "updated_at": at,
                "deleted_at": None,
                "archived_at": None,
                "last_seq": 2,
            },
        )
    )
    lines += [
        line(
            "message",
            {
                "conversation_id": 1,
                "seq": seq,
                "role": "user",
                "content": "hello",
                "tool_calls": None,
                "tool_results": None,
                "metadata": None,
                "created_at": at,
                "deleted_at": None,
            },
        )
        for seq in (1, 2)
    ]
    return lines


def _changed(lines: list[str], index: int, **fields: Any) -> list[str]:
    row = json.loads(lines[index])
    row.update(fields)
    return [*lines[:index], json.dumps(row) + "\n", *lines[index + 1 :]]


BROKEN: dict[str, Callable[[list[str]], list[str]]] = {
    # Late in the file, after more than a batch of rows has been written.
    "the last line is not JSON": lambda lines: [*lines[:-1], "{not json\n"],
    "a message beyond its conversation's last_seq": lambda lines: _changed(lines, -1, seq=3),
    "a message of another conversation": lambda lines: _changed(lines, -1, conversation_id=2),
    "a message before any conversation": lambda lines: [*lines[:-3], *lines[-2:]],
    "a task after the conversations": lambda lines: [*lines, lines[2]],
    "a task number twice": lambda lines: [*lines[:600], lines[600], *lines[600:]],
    "a task beyond last_task_id": lambda lines: _changed(lines, 700, id=5000),
    "a naive timestamp": lambda lines: _changed(lines, 650, created_at="2026-01-01T00:00:00"),
    "a number as a string": lambda lines: _changed(lines, 650, id="649"),
    "an unknown field": lambda lines: _changed(lines, 650, colour="red"),
    "an unknown type": lambda lines: _changed(lines, 650, type="note"),
    "completed without completed_at": lambda lines: _changed(lines, 650, completed=True),
    "a NUL in a title": lambda lines: _changed(lines, 650, title="a\u0000b"),
    "an empty line": lambda lines: [*lines[:650], "\n", *lines[650:]],
    # At the start.
    "no header": lambda lines: lines[1:],
    "another version": lambda lines: [line("todochat-export", {"version": 2}), *lines[1:]],
    "no user": lambda lines: [lines[0], *lines[2:]],
    "an empty file": lambda lines: [],
}


@pytest.mark.parametrize("breakage", BROKEN)
async def test_a_malformed_file_is_refused_naming_its_line_and_nothing_is_written(
    database: Database, breakage: str
) -> None:
    user_id = f"importer-{uuid.uuid4().hex[:10]}"
    lines = BROKEN[breakage](synthetic(tasks=1000))
    with pytest.raises(Invalid) as refused:
        await import_lines(database, (text.encode() for text in lines), as_user=user_id)
    assert refused.value.errors[0].field.startswith("line ")
    assert await owned(database, user_id) == (0, 0, 0, 0)


async def test_the_synthetic_file_itself_imports(database: Database) -> None:
    user_id = f"importer-{uuid.uuid4().hex[:10]}"
    lines = synthetic(tasks=1000)
    imported = await import_lines(database, (text.encode() for text in lines), as_user=user_id)
    assert (imported.tasks, imported.conversations, imported.messages) == (1000, 1, 2)
    assert await owned(database, user_id) == (1, 1000, 1, 2)


async def owned(database: Database, user_id: str) -> tuple[int, ...]:
    """How many users, tasks, conversations and messages the id has."""
    counts = []
    async with database.transaction(user_id) as session:
        for model, owner in (
            (User, User.id),
            (Task, Task.user_id),
            (Conversation, Conversation.user_id),
            (Message, Message.user_id),
        ):
            count = await session.scalar(
                select(func.count()).select_from(model).where(owner == user_id)
            )
            counts.append(count or 0)
    return tuple(counts)


async def test_an_account_that_holds_data_or_handed_out_numbers_is_refused(
    database: Database,
) -> None:
    lines = synthetic(tasks=3)
    busy = f"busy-{uuid.uuid4().hex[:10]}"
    used = f"used-{uuid.uuid4().hex[:10]}"
    blank = f"blank-{uuid.uuid4().hex[:10]}"
    async with database.transaction(busy) as session:
        await UserStore(session, busy).ensure()
        await TaskStore(session, busy).create(TaskCreate(title="Mine"))
    async with database.transaction(used) as session:
        await UserStore(session, used).ensure()
        await TaskStore(session, used).create(TaskCreate(title="Deleted"))
        await TaskStore(session, used).delete(1)
    async with database.transaction(blank) as session:
        await UserStore(session, blank).ensure()
    for user_id, before in ((busy, (1, 1, 0, 0)), (used, (1, 0, 0, 0))):
        with pytest.raises(AccountInUse):
            await import_lines(database, (t.encode() for t in lines), as_user=user_id)
        assert await owned(database, user_id) == before
    imported = await import_lines(database, (t.encode() for t in lines), as_user=blank)
    assert (imported.user_id, imported.tasks) == (blank, 3)


def todochat(database_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 (our own console entry point)
        [sys.executable, "-m", "todochat", *args],
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"},
        capture_output=True,
        check=False,
        timeout=120,
    )


async def prepared(url: str) -> bytes:
    async with opened(url) as database:
        await fill(database, "mover")
        return await exported(database, "mover")


async def owned_at(url: str, user_id: str) -> tuple[int, ...]:
    async with opened(url) as database:
        return await owned(database, user_id)


def test_todochat_export_and_import_move_an_account_between_databases(tmp_path: Path) -> None:
    with fresh("sqlite", tmp_path) as source_url, fresh("sqlite", tmp_path) as target_url:
        expected = asyncio.run(prepared(source_url))
        exported_file = tmp_path / "mover.jsonl"
        out = todochat(source_url, "export", "--user", "mover", "--out", str(exported_file))
        assert out.returncode == 0, out.stderr
        assert b"Exported 12 rows of user mover" in out.stdout
        assert exported_file.read_bytes() == expected
        assert todochat(source_url, "export", "--user", "mover").stdout == expected
        missing = todochat(source_url, "export", "--user", "nobody", "--out", str(tmp_path / "x"))
        assert (missing.returncode, missing.stdout) == (1, b"")
        assert not list(tmp_path.glob("x*"))

        moved = todochat(target_url, "import", str(exported_file), "--as-user", "moved")
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout.startswith(b"Imported 2 tasks, 4 conversations and 6 messages")
        again = todochat(target_url, "import", str(exported_file), "--as-user", "moved")
        assert again.returncode == 1
        assert b"nothing was written" in again.stderr
        assert asyncio.run(owned_at(target_url, "moved")) == (1, 2, 4, 6)
