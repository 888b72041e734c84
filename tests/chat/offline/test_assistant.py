"""The built-in assistant, end to end through the chat endpoint, with the database checked."""

from tests.chat.offline.conftest import Chat, changes, tools_called


async def test_every_example_of_the_spec_end_to_end(chat: Chat) -> None:
    reply = await chat.say("Add a task to buy groceries")
    assert tools_called(reply) == [("add_task", {"title": "Buy groceries"})]
    assert reply["tool_calls"][0]["result"] == {
        "task_id": 1,
        "status": "created",
        "title": "Buy groceries",
    }
    assert "Buy groceries" in reply["response"]
    assert await chat.tasks() == [(1, "Buy groceries", False)]

    reply = await chat.say("I need to remember to pay bills")
    assert tools_called(reply) == [("add_task", {"title": "Pay bills"})]
    await chat.say("Add a task to call mom")
    await chat.say("Add a task to prepare the team meeting")
    assert [t[1] for t in await chat.tasks()] == [
        "Buy groceries",
        "Pay bills",
        "Call mom",
        "Prepare the team meeting",
    ]

    reply = await chat.say("Show me all my tasks")
    assert tools_called(reply) == [("list_tasks", {"status": "all"})]
    assert len(reply["tool_calls"][0]["result"]) == 4
    assert "4. Prepare the team meeting" in reply["response"]

    reply = await chat.say("Mark task 3 as complete")  # it looks at the task before acting
    assert tools_called(reply) == [
        ("list_tasks", {"status": "all"}),
        ("complete_task", {"task_id": 3}),
    ]
    assert reply["tool_calls"][1]["result"] == {
        "task_id": 3,
        "status": "completed",
        "title": "Call mom",
    }
    assert reply["response"] == 'Marked task 3 "Call mom" as complete. Nice work!'
    assert (3, "Call mom", True) in await chat.tasks()

    reply = await chat.say("What's pending?")
    assert tools_called(reply) == [("list_tasks", {"status": "pending"})]
    assert [t["id"] for t in reply["tool_calls"][0]["result"]] == [1, 2, 4]

    reply = await chat.say("What have I completed?")
    assert tools_called(reply) == [("list_tasks", {"status": "completed"})]
    assert "Call mom" in reply["response"]

    reply = await chat.say("Delete the meeting task")
    assert tools_called(reply) == [
        ("list_tasks", {"status": "all"}),
        ("delete_task", {"task_id": 4}),
    ]
    assert reply["tool_calls"][1]["result"]["status"] == "deleted"
    assert [t[0] for t in await chat.tasks()] == [1, 2, 3]

    reply = await chat.say("Change task 1 to 'Call mom tonight'")
    assert changes(reply) == [("update_task", {"task_id": 1, "title": "Call mom tonight"})]
    assert reply["tool_calls"][-1]["result"] == {
        "task_id": 1,
        "status": "updated",
        "title": "Call mom tonight",
    }
    assert (1, "Call mom tonight", False) in await chat.tasks()


async def test_a_task_named_by_words_or_number_words_is_found(chat: Chat) -> None:
    await chat.say("add a task to buy groceries")
    await chat.say("add a task to call the plumber")
    reply = await chat.say("I finished the plumber task")
    assert tools_called(reply)[-1] == ("complete_task", {"task_id": 2})
    reply = await chat.say("delete task one")
    assert changes(reply) == [("delete_task", {"task_id": 1})]
    assert await chat.tasks() == [(2, "Call the plumber", True)]


async def test_it_asks_which_task_when_several_match_and_changes_nothing(chat: Chat) -> None:
    await chat.say("add a task to write the meeting notes")
    await chat.say("add a task to book the meeting room")
    reply = await chat.say("delete the meeting task")
    assert tools_called(reply) == [("list_tasks", {"status": "all"})]
    assert "Which one do you mean" in reply["response"]
    assert '1 "Write the meeting notes"' in reply["response"]
    assert len(await chat.tasks()) == 2


async def test_it_says_plainly_when_a_task_is_not_found(chat: Chat) -> None:
    reply = await chat.say("Mark task 9 as complete")
    assert reply["response"] == "Task 9 was not found."
    assert reply["tool_calls"][-1]["result"] == {"error": "Task 9 was not found."}
    reply = await chat.say("delete the unicorn task")
    assert reply["response"] == 'I couldn\'t find a task matching "unicorn".'


async def test_it_says_what_it_cannot_do(chat: Chat) -> None:
    reply = await chat.say("What's the weather in Paris?")
    assert reply["tool_calls"] == []
    assert reply["response"].startswith("Sorry, I didn't understand that.")
    assert "add, list, complete, delete and update" in reply["response"]


async def test_an_over_long_title_is_refused_in_a_sentence(chat: Chat) -> None:
    reply = await chat.say("add a task to " + "x" * 250)
    assert "at most 200 characters" in reply["response"]
    assert await chat.tasks() == []
