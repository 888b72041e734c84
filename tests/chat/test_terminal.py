"""`todochat chat`: the assistant in a terminal, its history kept between runs."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

from todochat.conversations.store import MessageStore
from todochat.db import Database


def chat(database_url: str, user_id: str, lines: str, cwd: Path) -> str:
    result = subprocess.run(  # noqa: S603 (our own console entry point)
        [sys.executable, "-m", "todochat", "chat", "--user", user_id],
        input=lines,
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


async def test_the_terminal_chat_keeps_history_between_runs(
    database_url: str, tmp_path: Path
) -> None:
    user_id = f"terminal-{uuid.uuid4().hex[:8]}"
    first = chat(
        database_url, user_id, "Add a task to buy milk\n\nWhat's pending?\nexit\n", tmp_path
    )
    assert 'Added task 1: "Buy milk".' in first
    assert "1. Buy milk" in first
    lines = "Mark task 1 as done\nAdd a task to buy oat milk\ndelete the milk task\n2\n"
    second = chat(database_url, user_id, lines, tmp_path)
    assert "Resuming conversation 1" in second
    assert "user> What's pending?" in second
    assert 'Marked task 1 "Buy milk" as complete.' in second
    assert 'Which one do you mean: 1 "Buy milk", 2 "Buy oat milk"?' in second
    assert 'Deleted task 2 "Buy oat milk".' in second
    too_long = chat(database_url, user_id, "x" * 10_001 + "\n", tmp_path)
    assert "at most 10000 characters" in too_long

    database = Database(database_url)
    try:
        async with database.transaction(user_id) as session:
            history = await MessageStore(session, user_id).latest(1)
    finally:
        await database.dispose()
    roles = " ".join(m.role.value for m in history)
    assert roles == " ".join(
        [
            "user tool assistant",  # add
            "user tool assistant",  # list
            "user tool tool assistant",  # a look at the task, then complete
            "user tool assistant",  # add
            "user tool assistant",  # a look at the list, then the question
            "user tool tool assistant",  # the answer: a look, then delete
        ]
    )
    assert [m.seq for m in history] == list(range(1, 21))
