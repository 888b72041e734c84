"""A server killed in the middle of a turn leaves every write whole and the conversation usable."""

import asyncio
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import SECRET, api_user, until
from tests.serving import Server, todochat_env
from todochat.bench.model_server import Behaviour, ModelServer
from todochat.conversations.store import MessageStore
from todochat.db import Database
from todochat.tasks.store import TaskStore


async def test_a_turn_killed_between_a_tool_call_and_its_answer_leaves_whole_writes(
    database_url: str, tmp_path: Path
) -> None:
    alice = api_user("alice")
    gate = threading.Event()
    # The first model call asks for add_task; the second, after the tool ran, never returns.
    with ModelServer(Behaviour(gate=gate, gate_from=2)) as model:
        env = todochat_env(
            DATABASE_URL=database_url,
            BETTER_AUTH_SECRET=SECRET,
            OPENAI_MODEL="local-model",
            OPENAI_BASE_URL=model.base_url,
            CHAT_TURN_TIMEOUT="5",
        )
        server = Server(tmp_path, env)
        server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url, headers=alice.headers) as client:
            turn = asyncio.create_task(
                client.post(alice.url("/chat"), json={"message": "add buy milk"})
            )
            await until(lambda: len(model.requests) == 2)
            server.kill()
            assert isinstance((await asyncio.gather(turn, return_exceptions=True))[0], Exception)

        database = Database(database_url)
        try:
            async with database.read(alice.id) as session:
                messages = await MessageStore(session, alice.id).latest(1)
                tasks = await TaskStore(session, alice.id).list()
        finally:
            await database.dispose()
        assert [(m.role.value, m.content) for m in messages] == [
            ("user", "add buy milk"),
            ("tool", '{"task_id": 1, "status": "created", "title": "buy milk"}'),
        ]
        assert [(t.id, t.title) for t in tasks] == [(1, "buy milk")]

        gate.set()
        server = Server(tmp_path, env)
        try:
            server.wait_ready()
            async with httpx.AsyncClient(base_url=server.url, headers=alice.headers) as client:
                # The dead turn's claim on the conversation expires at its deadline.
                give_up = time.monotonic() + 30
                while True:
                    reply = await client.post(
                        alice.url("/chat"), json={"message": "complete 1", "conversation_id": 1}
                    )
                    if reply.status_code != 409 or time.monotonic() > give_up:
                        break
                    await asyncio.sleep(0.2)
                assert reply.status_code == 200, reply.text
                assert reply.json()["response"] == 'Completed task 1: "buy milk".'
                listed = await client.get(alice.url("/conversations/1/messages"))
        finally:
            server.stop()
    assert [m["role"] for m in listed.json()["items"]] == [
        "user",
        "tool",
        "user",
        "tool",
        "assistant",
    ]
