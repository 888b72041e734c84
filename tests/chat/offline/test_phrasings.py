"""Everyday phrasings, each said to the assistant through the chat endpoint on a known list."""

from typing import Any

import pytest

from tests.chat.offline.conftest import Chat, Row, tools_called
from todochat.chat.offline import understand

SEEDED = [
    "Call the plumber",
    "Fix the bike",
    "Email Sam",  # done
    "Buy groceries",
    "Prepare the team meeting",
    "Renew the passport",
]
DONE = (3,)
LISTED = ("list_tasks", {"status": "all"})  # a look at the list, changing nothing

Call = tuple[str, dict[str, Any]]


def add(title: str) -> Call:
    return ("add_task", {"title": title})


def listing(status: str) -> Call:
    return ("list_tasks", {"status": status})


def complete(number: int) -> Call:
    return ("complete_task", {"task_id": number})


def delete(number: int) -> Call:
    return ("delete_task", {"task_id": number})


def rename(number: int, title: str) -> Call:
    return ("update_task", {"task_id": number, "title": title})


def describe(number: int, description: str) -> Call:
    return ("update_task", {"task_id": number, "description": description})


# A message, the last tool call it leads to (None: no call at all), and words of the answer.
PHRASINGS: list[tuple[str, Call | None, str]] = [
    # The examples every assistant of todochat must handle
    ("Add a task to buy groceries", add("Buy groceries"), 'Added task 7: "Buy groceries".'),
    ("Show me all my tasks", listing("all"), "You have 6 tasks:"),
    ("What's pending?", listing("pending"), "You have 5 pending tasks:"),
    ("Mark task 3 as complete", LISTED, 'Task 3 "Email Sam" was already done.'),
    ("Delete the meeting task", delete(5), 'Deleted task 5 "Prepare the team meeting".'),
    ("Change task 1 to 'Call mom tonight'", rename(1, "Call mom tonight"), "Call mom tonight"),
    ("I need to remember to pay bills", add("Pay bills"), '"Pay bills"'),
    ("What have I completed?", listing("completed"), "3. Email Sam"),
    # Intentions and reminders, their framing left out of the title
    ("I should call the plumber about the leak", add("Call the plumber about the leak"), "7"),
    ("don't forget to email Sam", add("Email Sam"), 'Added task 7: "Email Sam".'),
    ("Don't let me forget to renew the car insurance", add("Renew the car insurance"), "7"),
    ("remind me to call grandma on Sunday", add("Call grandma on Sunday"), "7"),
    ("I ought to water the plants", add("Water the plants"), "7"),
    ("gotta buy stamps", add("Buy stamps"), '"Buy stamps"'),
    ("We should book a table for Friday", add("Book a table for Friday"), "7"),
    ("I want to learn the piano", add("Learn the piano"), "7"),
    ("I really need to clean the garage", add("Clean the garage"), "7"),
    ("Make sure I renew my library card", add("Renew my library card"), "7"),
    ("note to self: back up the laptop", add("Back up the laptop"), "7"),
    ("todo: return the library books", add("Return the library books"), "7"),
    ("jot down pick up the dry cleaning", add("Pick up the dry cleaning"), "7"),
    ("Could you put oil change on my list?", add("Oil change"), '"Oil change"'),
    ("Please add walk the dog to my to-do list, thanks", add("Walk the dog"), "7"),
    ("create a reminder to pay rent", add("Pay rent"), '"Pay rent"'),
    # Listings
    ("what's on my plate?", listing("pending"), "1. Call the plumber"),
    ("show me everything", listing("all"), "3. Email Sam ✓"),
    ("the full list", listing("all"), "You have 6 tasks:"),
    ("what's left?", listing("pending"), "You have 5 pending tasks:"),
    ("what do I still have to do?", listing("pending"), "6. Renew the passport"),
    ("anything left to do?", listing("pending"), "5 pending"),
    ("what's next?", listing("pending"), "5 pending"),
    ("how many tasks do I have?", listing("all"), "You have 6 tasks:"),
    ("my to-dos", listing("all"), "You have 6 tasks:"),
    ("give me the whole list", listing("all"), "You have 6 tasks:"),
    ("what did I get done so far?", listing("completed"), "You have completed 1 task:"),
    ("show me what I've finished", listing("completed"), "3. Email Sam"),
    ("Which ones are done?", listing("completed"), "3. Email Sam"),
    # Completing, the task named by its number or by words in any form
    ("I finished fixing the bike", complete(2), 'Marked task 2 "Fix the bike" as complete.'),
    ("I'm done with the groceries", complete(4), '"Buy groceries"'),
    ("the plumber is sorted", complete(1), 'task 1 "Call the plumber"'),
    ("cross the bike off my list", complete(2), "task 2"),
    ("tick off task 4", complete(4), "task 4"),
    ("task 5 done", complete(5), "task 5"),
    ("I took care of the passport", complete(6), "Renew the passport"),
    ("just finished the team meeting prep", complete(5), "Prepare the team meeting"),
    ("I've finished calling the plumbr", complete(1), "Call the plumber"),
    ("I did the groceries", complete(4), "Buy groceries"),
    ("I called the plumber", complete(1), 'Marked task 1 "Call the plumber" as complete.'),
    ("I just bought the groceries", complete(4), 'task 4 "Buy groceries"'),
    ("I've emailed Sam", LISTED, 'Task 3 "Email Sam" was already done.'),
    ("set task two as done", complete(2), "Fix the bike"),
    ("I haven't finished emailing Sam after all", LISTED, "I can't reopen a task"),
    ("I finished emailing Sam", LISTED, 'Task 3 "Email Sam" was already done.'),
    # Deleting
    ("get rid of the groceries task", delete(4), 'Deleted task 4 "Buy groceries".'),
    ("take the passport off my list", delete(6), "Renew the passport"),
    ("I don't need to fix the bike anymore", delete(2), "Fix the bike"),
    ("scrap task 5", delete(5), "Prepare the team meeting"),
    ("erase the one about the plumber", delete(1), "Call the plumber"),
    ("forget about the meeting", delete(5), "task 5"),
    # Renaming and describing
    ("rename the bike task to Fix the bike brakes", rename(2, "Fix the bike brakes"), "brakes"),
    (
        "change the groceries to buy groceries and fruit",
        rename(4, "Buy groceries and fruit"),
        'Renamed task 4 from "Buy groceries" to "Buy groceries and fruit".',
    ),
    (
        "set the description of task 6 to photos are in the drawer",
        describe(6, "photos are in the drawer"),
        'the description of task 6 "Renew the passport"',
    ),
    (
        "add a note to the plumber task: the leak is under the sink",
        describe(1, "the leak is under the sink"),
        'task 1 "Call the plumber"',
    ),
    (
        "update the bike task's description to the chain is rusty",
        describe(2, "the chain is rusty"),
        'task 2 "Fix the bike"',
    ),
    # Reopening: the tools cannot, and the answer says so
    ("reopen task 3", LISTED, "I can't reopen a task from the chat"),
    ("uncheck the Sam task", LISTED, 'task 3 "Email Sam" is still done'),
    ("task 3 isn't done yet", LISTED, "PATCH"),
    ("mark the passport as not done", LISTED, 'Task 6 "Renew the passport" is already open.'),
    # Talk that changes nothing
    ("undo", None, "There's nothing for me to undo"),
    ("oops, take that back", None, "nothing for me to undo"),
    ("never mind", None, "OK, I'll leave your tasks as they are."),
    ("what can you do?", None, "I can add, list, complete, delete and update your tasks"),
    ("hi there", None, "Hi!"),
    ("thanks a lot", None, "You're welcome!"),
    ("delete it", LISTED, "Which task do you mean?"),
    ("3", None, 'What should I do with task 3? Say, for example, "complete task 3"'),
    ("the second one", None, "What should I do with the second one?"),
    ("complete the unicorn task", LISTED, 'I couldn\'t find a task matching "unicorn".'),
    ("bike", None, "Sorry, I didn't understand that."),
]


def _after(seeded: list[Row], call: Call | None) -> list[Row]:
    """The tasks once `call` ran on the seeded list."""
    tool, arguments = call or ("none", {})
    number = arguments.get("task_id")
    if tool == "add_task":
        return [*seeded, (len(seeded) + 1, arguments["title"], False)]
    if tool == "delete_task":
        return [row for row in seeded if row[0] != number]
    return [
        (
            row[0],
            arguments.get("title", row[1]) if row[0] == number else row[1],
            row[2] or (tool == "complete_task" and row[0] == number),
        )
        for row in seeded
    ]


def test_the_table_holds_more_than_sixty_phrasings() -> None:
    assert len({message for message, *_ in PHRASINGS}) == len(PHRASINGS) > 60


@pytest.mark.parametrize(("message", "call", "says"), PHRASINGS, ids=[p[0] for p in PHRASINGS])
async def test_a_phrasing_does_what_it_says(
    chat: Chat, message: str, call: Call | None, says: str
) -> None:
    await chat.seed(*SEEDED, done=DONE)
    seeded = await chat.tasks()
    reply = await chat.say(message)
    read_as = f"{message!r} was read as {understand(message)!r}; answer: {reply['response']!r}"
    calls = tools_called(reply)
    assert (calls[-1] if calls else None) == call, read_as
    assert says in reply["response"], read_as
    assert await chat.tasks() == _after(seeded, call), read_as
    if call is not None and "description" in call[1]:
        assert await chat.description(call[1]["task_id"]) == call[1]["description"]
