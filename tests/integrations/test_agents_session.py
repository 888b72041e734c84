"""`TodochatSession`: the Agents SDK's own session cases, on todochat's store, on both backends."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.items import TResponseInputItem
from agents.memory import Session, SessionSettings
from agents.testing import ScriptedModel, assistant_message, function_call

from tests.conftest import ApiUser, api_user, say
from tests.integrations.items import ANSWER, FUNCTION_CALL, FUNCTION_OUTPUT, REASONING
from todochat.db import Database
from todochat.errors import Invalid
from todochat.integrations.agents import TodochatSession


def session(
    database: Database, session_id: str = "chat", user: str | None = None
) -> TodochatSession:
    return TodochatSession.on(database, session_id, user_id=user or f"user-{uuid.uuid4().hex[:10]}")


def said(*contents: str) -> list[TResponseInputItem]:
    return [
        {"role": "user" if n % 2 == 0 else "assistant", "content": c}
        for n, c in enumerate(contents)
    ]


def contents(items: list[TResponseInputItem]) -> list[Any]:
    return [item.get("content") for item in map(dict, items)]


async def read(chat: TodochatSession, limit: int | None = None) -> list[dict[str, Any]]:
    return [dict(item) for item in await chat.get_items(limit)]


def test_the_session_is_an_agents_sdk_session(database: Database) -> None:
    assert isinstance(session(database), Session)


async def test_items_are_added_read_and_cleared(database: Database) -> None:
    chat = session(database)
    items = said("Hello", "Hi there!")
    await chat.add_items(items)
    assert await chat.get_items() == items
    await chat.clear_session()
    assert await chat.get_items() == []
    await chat.add_items(said("Again"))
    assert await chat.get_items() == said("Again")


async def test_tool_calls_and_reasoning_round_trip_exactly(database: Database) -> None:
    chat = session(database)
    items = [*said("Add buy milk"), REASONING, FUNCTION_CALL, FUNCTION_OUTPUT, ANSWER]
    await chat.add_items(items)
    assert await chat.get_items() == items
    assert await chat.get_items(limit=3) == [FUNCTION_CALL, FUNCTION_OUTPUT, ANSWER]
    assert await chat.get_items(limit=2) == [FUNCTION_OUTPUT, ANSWER]


async def test_pop_returns_and_removes_the_newest_item_until_none(database: Database) -> None:
    chat = session(database)
    assert await chat.pop_item() is None
    await chat.add_items(said("Hello", "Hi there!", "How are you?"))
    assert await chat.pop_item() == {"role": "user", "content": "How are you?"}
    assert contents(await chat.get_items()) == ["Hello", "Hi there!"]
    assert await chat.pop_item() == {"role": "assistant", "content": "Hi there!"}
    assert await chat.pop_item() == {"role": "user", "content": "Hello"}
    assert await chat.pop_item() is None
    assert await chat.get_items() == []


async def test_pop_takes_a_calls_output_and_leaves_the_call(database: Database) -> None:
    chat = session(database)
    await chat.add_items([*said("Add buy milk"), FUNCTION_CALL, FUNCTION_OUTPUT])
    assert await chat.pop_item() == FUNCTION_OUTPUT
    assert await chat.get_items() == [*said("Add buy milk"), FUNCTION_CALL]
    assert await chat.pop_item() == FUNCTION_CALL
    assert await chat.get_items() == said("Add buy milk")


async def test_pop_and_clear_touch_only_their_own_session(database: Database) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    first, second = session(database, "one", user), session(database, "two", user)
    await first.add_items(said("Session 1 message"))
    await second.add_items([{"role": "user", "content": f"Session 2 message {n}"} for n in (1, 2)])
    assert await second.pop_item() == {"role": "user", "content": "Session 2 message 2"}
    assert contents(await first.get_items()) == ["Session 1 message"]
    assert contents(await second.get_items()) == ["Session 2 message 1"]
    await second.clear_session()
    assert (await second.get_items(), contents(await first.get_items())) == (
        [],
        ["Session 1 message"],
    )


async def test_the_latest_items_come_in_chronological_order(database: Database) -> None:
    chat = session(database)
    items = said("Message 1", "Response 1", "Message 2", "Response 2", "Message 3", "Response 3")
    await chat.add_items(items)
    assert await chat.get_items() == items
    assert await chat.get_items(limit=2) == items[-2:]
    assert await chat.get_items(limit=4) == items[-4:]
    assert await chat.get_items(limit=10) == items
    assert await chat.get_items(limit=0) == []


async def test_long_sessions_read_in_pages_whole_and_in_order(database: Database) -> None:
    chat = session(database)
    items: list[TResponseInputItem] = [{"role": "user", "content": f"m{n}"} for n in range(450)]
    for start in range(0, 450, 150):
        await chat.add_items(items[start : start + 150])
    assert await chat.get_items() == items
    assert await chat.get_items(limit=3) == items[-3:]
    assert await chat.get_items(limit=333) == items[-333:]


async def test_session_settings_give_the_default_limit(database: Database) -> None:
    chat = TodochatSession.on(
        database,
        "limited",
        user_id=f"user-{uuid.uuid4().hex[:10]}",
        session_settings=SessionSettings(limit=2),
    )
    await chat.add_items(said("a", "b", "c"))
    assert contents(await chat.get_items()) == ["b", "c"]
    assert contents(await chat.get_items(limit=3)) == ["a", "b", "c"]


async def test_the_same_session_id_of_two_users_is_two_sessions(database: Database) -> None:
    alice, bob = session(database, "support"), session(database, "support")
    await alice.add_items(said("Alice's"))
    await bob.add_items(said("Bob's"))
    assert contents(await alice.get_items()) == ["Alice's"]
    await bob.clear_session()
    assert contents(await alice.get_items()) == ["Alice's"]
    assert await alice.pop_item() is not None
    assert await bob.pop_item() is None


async def test_unicode_and_sql_looking_text_is_kept_verbatim(database: Database) -> None:
    chat = session(database, "'; DROP TABLE messages; --")
    items = said(
        "こんにちは",
        "😊👍",
        "Привет",
        "O'Reilly",
        "DROP TABLE sessions;",
        '"SELECT * FROM users WHERE name = "admin";"',
        "Robert'); DROP TABLE students;--",
        "\\u0041 \\n % _ ?",
    )
    await chat.add_items(items)
    assert await chat.get_items() == items


async def test_concurrent_adds_all_land_once(database: Database) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    writers = [session(database, "busy", user) for _ in range(10)]
    await asyncio.gather(
        *(w.add_items([{"role": "user", "content": f"Message {n}"}]) for n, w in enumerate(writers))
    )
    stored = await writers[0].get_items()
    assert sorted(contents(stored)) == sorted(f"Message {n}" for n in range(10))


async def test_an_empty_add_writes_nothing(database: Database) -> None:
    chat = session(database)
    await chat.add_items([])
    assert (await chat.get_items(), await chat.pop_item()) == ([], None)


async def test_items_no_backend_can_store_are_refused_and_nothing_is_written(
    database: Database,
) -> None:
    chat = session(database)
    with pytest.raises(Invalid, match="NUL"):
        await chat.add_items([*said("fine"), {"role": "user", "content": "nul \x00"}])
    assert await chat.get_items() == []


@pytest.mark.parametrize("session_id", ["", "x" * 256, "conversation-3"])
def test_a_session_id_that_cannot_be_a_key_is_refused(database: Database, session_id: str) -> None:
    with pytest.raises(Invalid, match="session_id"):
        session(database, session_id)


async def test_a_session_opened_from_a_url_owns_and_closes_its_pool(database_url: str) -> None:
    chat = TodochatSession(
        "by-url", user_id=f"user-{uuid.uuid4().hex[:10]}", database_url=database_url
    )
    await chat.add_items(said("kept"))
    await chat.close()
    again = TodochatSession("by-url", user_id=chat.user_id, database_url=database_url)
    assert contents(await again.get_items()) == ["kept"]
    await again.close()


@function_tool
def add_task(title: str) -> str:
    """Add a task."""
    return f"Added {title}."


async def test_a_runner_remembers_the_previous_run_with_its_tool_call(database: Database) -> None:
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "Buy milk"}, call_id="call_a")],
            [assistant_message("I added Buy milk.")],
            [assistant_message("You asked me to add Buy milk.")],
        ]
    )
    agent = Agent(name="todochat", model=model, tools=[add_task])
    chat = session(database)
    config = RunConfig(tracing_disabled=True)
    first = await Runner.run(agent, "Add buy milk", session=chat, run_config=config)
    assert first.final_output == "I added Buy milk."
    assert await chat.get_items() == first.to_input_list()
    second = await Runner.run(agent, "What did I ask?", session=chat, run_config=config)
    assert second.final_output == "You asked me to add Buy milk."
    model.assert_complete()
    remembered = model.calls[-1].input
    assert [item.get("type", "message") for item in remembered] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
    ]
    assert remembered[0] == {"role": "user", "content": "Add buy milk"}
    assert remembered[2]["output"] == "Added Buy milk."
    assert await chat.get_items() == [*remembered, *(await chat.get_items(limit=1))]


async def test_a_streamed_run_remembers_the_previous_run(database: Database) -> None:
    model = ScriptedModel([[assistant_message("San Francisco")], [assistant_message("California")]])
    agent = Agent(name="todochat", model=model)
    chat = session(database)
    config = RunConfig(tracing_disabled=True)
    for question in ("Where is the Golden Gate Bridge?", "Which state is it in?"):
        run = Runner.run_streamed(agent, question, session=chat, run_config=config)
        async for _ in run.stream_events():
            pass
    assert run.final_output == "California"
    assert [item.get("role") for item in model.calls[-1].input] == ["user", "assistant", "user"]


async def test_session_items_are_ordinary_readable_messages(
    database: Database, client: httpx.AsyncClient
) -> None:
    person = api_user("reader")
    chat = session(database, "readable", person.id)
    await chat.add_items([*said("Add buy milk"), REASONING, FUNCTION_CALL, FUNCTION_OUTPUT, ANSWER])
    found = await client.get(person.url("/conversations?key=readable"), headers=person.headers)
    [conversation] = found.json()["items"]
    assert (conversation["key"], conversation["title"]) == ("readable", "Add buy milk")
    listed = await client.get(
        person.url(f"/conversations/{conversation['id']}/messages"), headers=person.headers
    )
    readable = [
        (m["role"], m["content"], m["tool_calls"], m["tool_results"])
        for m in listed.json()["items"]
    ]
    assert readable == [
        ("user", "Add buy milk", None, None),
        ("system", "The person wants a task.", None, None),
        (
            "tool",
            '{"task_id": 1, "status": "created", "title": "Buy milk"}',
            [{"tool": "add_task", "arguments": {"title": "Buy milk"}}],
            [
                {
                    "tool": "add_task",
                    "result": {"task_id": 1, "status": "created", "title": "Buy milk"},
                }
            ],
        ),
        ("assistant", "Added “Buy milk”.", None, None),
    ]


async def test_a_chat_turns_conversation_reads_as_model_input(
    client: httpx.AsyncClient, alice: ApiUser, database: Database
) -> None:
    await say(client, alice, "Add a task to buy milk")
    named = await client.patch(
        alice.url("/conversations/1"), json={"key": "from-chat"}, headers=alice.headers
    )
    assert named.status_code == 200
    chat = session(database, "from-chat", alice.id)
    items = await read(chat)
    assert [item.get("type", item.get("role")) for item in items] == [
        "user",
        "function_call",
        "function_call_output",
        "assistant",
    ]
    assert items[1]["name"] == "add_task"
    assert items[1]["call_id"] == items[2]["call_id"]
    await chat.add_items(said("Thanks"))
    turn = await say(client, alice, "Show me all my tasks", conversation_id=1)
    assert turn.status_code == 200
    assert (await read(chat, limit=1))[0]["role"] == "assistant"


async def test_a_deleted_conversation_is_an_empty_session_that_refuses_writes(
    database: Database, client: httpx.AsyncClient
) -> None:
    person = api_user()
    chat = session(database, "gone", person.id)
    await chat.add_items(said("soon deleted"))
    deleted = await client.delete(person.url("/conversations/1"), headers=person.headers)
    assert deleted.status_code == 200
    assert (await chat.get_items(), await chat.pop_item()) == ([], None)
    with pytest.raises(Invalid, match="deleted conversation"):
        await chat.add_items(said("more"))
    await client.post(person.url("/conversations/1/restore"), headers=person.headers)
    assert contents(await chat.get_items()) == ["soon deleted"]
