"""Conversations with the offline assistant: each turn read in the light of the turns before it,
which it finds in the stored history alone; the database is checked after every turn."""

import pytest

from tests.chat.offline.conftest import Chat, changes, tools_called

ASKED = 'Which one do you mean: 1 "Call the dentist", 2 "Book the dentist checkup"?'


@pytest.mark.parametrize(
    ("answer", "chosen"),
    [
        ("2", 2),
        ("number one", 1),
        ("#2", 2),
        ("task 1", 1),
        ("the second", 2),
        ("the first one", 1),
        ("the last one", 2),
        ("the checkup", 2),
        ("Call the dentist", 1),
        ("2, please", 2),
    ],
)
async def test_the_question_which_one_is_answered_by_number_place_or_words(
    chat: Chat, answer: str, chosen: int
) -> None:
    await chat.seed("Call the dentist", "Book the dentist checkup")
    reply = await chat.say("delete the dentist task")
    assert reply["response"] == f"{ASKED} Tell me its number."
    assert changes(reply) == []
    assert len(await chat.tasks()) == 2

    reply = await chat.say(answer)
    assert changes(reply) == [("delete_task", {"task_id": chosen})]
    assert f"Deleted task {chosen}" in reply["response"]
    assert [row[0] for row in await chat.tasks()] == [3 - chosen]


async def test_a_number_that_is_no_option_picks_the_option_in_that_place(chat: Chat) -> None:
    await chat.seed("Buy milk", "Call the dentist", "Walk the dog", "Pay the dentist bill")
    reply = await chat.say("I finished the dentist thing")
    assert '2 "Call the dentist", 4 "Pay the dentist bill"' in reply["response"]
    assert await chat.tasks() == [
        (1, "Buy milk", False),
        (2, "Call the dentist", False),
        (3, "Walk the dog", False),
        (4, "Pay the dentist bill", False),
    ]
    reply = await chat.say("1")  # no option is task 1: the first option is meant
    assert changes(reply) == [("complete_task", {"task_id": 2})]
    assert reply["response"] == 'Marked task 2 "Call the dentist" as complete. Nice work!'
    assert (2, "Call the dentist", True) in await chat.tasks()


async def test_a_rename_waits_for_the_answer_and_keeps_its_new_title(chat: Chat) -> None:
    await chat.seed("Call the dentist", "Book the dentist checkup")
    reply = await chat.say("rename the dentist task to Call the dentist at nine")
    assert ASKED in reply["response"]
    assert [row[1] for row in await chat.tasks()] == [
        "Call the dentist",
        "Book the dentist checkup",
    ]
    reply = await chat.say("the first one")
    assert changes(reply) == [("update_task", {"task_id": 1, "title": "Call the dentist at nine"})]
    assert reply["response"] == (
        'Renamed task 1 from "Call the dentist" to "Call the dentist at nine".'
    )
    assert [row[1] for row in await chat.tasks()] == [
        "Call the dentist at nine",
        "Book the dentist checkup",
    ]


async def test_words_that_fit_several_options_narrow_the_question(chat: Chat) -> None:
    await chat.seed("Call the dentist", "Book the dentist checkup", "Pay the dentist checkup bill")
    reply = await chat.say("complete dentist")
    assert '1 "Call the dentist", 2 "Book the dentist checkup", 3 "Pay the' in reply["response"]
    reply = await chat.say("the checkup")
    assert reply["response"] == (
        'Which one do you mean: 2 "Book the dentist checkup", 3 "Pay the dentist checkup bill"?'
        " Tell me its number."
    )
    assert changes(reply) == []
    assert [row[2] for row in await chat.tasks()] == [False, False, False]
    reply = await chat.say("the bill one")
    assert changes(reply) == [("complete_task", {"task_id": 3})]
    assert [row[2] for row in await chat.tasks()] == [False, False, True]


async def test_an_answer_that_fits_no_option_is_asked_again_until_dismissed(chat: Chat) -> None:
    await chat.seed("Call the dentist", "Book the dentist checkup")
    await chat.say("delete the dentist task")
    reply = await chat.say("the plumber")
    assert reply["response"] == f'None of those matches "plumber". {ASKED} Tell me its number.'
    assert changes(reply) == []
    assert len(await chat.tasks()) == 2
    reply = await chat.say("never mind")
    assert (reply["response"], tools_called(reply)) == (
        "OK, I'll leave your tasks as they are.",
        [],
    )
    reply = await chat.say("2")  # the question is closed
    assert tools_called(reply) == []
    assert reply["response"].startswith("What should I do with task 2?")
    assert len(await chat.tasks()) == 2


async def test_a_new_request_while_a_question_is_open_is_done_instead(chat: Chat) -> None:
    await chat.seed("Call the dentist", "Book the dentist checkup")
    await chat.say("delete the dentist task")
    reply = await chat.say("add a task to buy bread")
    assert changes(reply) == [("add_task", {"title": "Buy bread"})]
    assert len(await chat.tasks()) == 3
    reply = await chat.say("1")
    assert changes(reply) == []
    assert len(await chat.tasks()) == 3


async def test_it_and_that_one_are_the_task_last_acted_on(chat: Chat) -> None:
    reply = await chat.say("add a task to buy milk")
    assert await chat.tasks() == [(1, "Buy milk", False)]
    reply = await chat.say("actually, rename it to buy oat milk")
    assert changes(reply) == [("update_task", {"task_id": 1, "title": "Buy oat milk"})]
    assert await chat.tasks() == [(1, "Buy oat milk", False)]
    reply = await chat.say("it's done")
    assert changes(reply) == [("complete_task", {"task_id": 1})]
    assert await chat.tasks() == [(1, "Buy oat milk", True)]
    await chat.say("I should pay the rent")
    assert await chat.tasks() == [(1, "Buy oat milk", True), (2, "Pay the rent", False)]
    reply = await chat.say("delete that one")
    assert changes(reply) == [("delete_task", {"task_id": 2})]
    assert reply["response"] == 'Deleted task 2 "Pay the rent".'
    assert await chat.tasks() == [(1, "Buy oat milk", True)]


async def test_places_are_in_the_list_last_shown(chat: Chat) -> None:
    await chat.seed("Water the plants", "Pay the rent", "Call grandma", "Sort the mail")
    await chat.say("complete task 4")
    reply = await chat.say("what's on my plate?")
    assert reply["response"] == (
        "You have 3 pending tasks:\n1. Water the plants\n2. Pay the rent\n3. Call grandma"
    )
    reply = await chat.say("finish the second one")
    assert changes(reply) == [("complete_task", {"task_id": 2})]
    assert [row[2] for row in await chat.tasks()] == [False, True, False, True]
    reply = await chat.say("remove the last one")
    assert changes(reply) == [("delete_task", {"task_id": 3})]
    assert [row[0] for row in await chat.tasks()] == [1, 2, 4]
    reply = await chat.say("what's left")
    assert reply["response"] == "You have 1 pending task:\n1. Water the plants"
    reply = await chat.say("mark it as done")  # the one task shown
    assert changes(reply) == [("complete_task", {"task_id": 1})]
    assert [row[2] for row in await chat.tasks()] == [True, True, True]
    reply = await chat.say("delete the third one")
    assert reply["response"] == (
        "That list has 1 task. Which task do you mean? Tell me its number or part of its title."
    )
    assert [row[2] for row in await chat.tasks()] == [True, True, True]


async def test_a_place_with_no_list_shown_and_it_with_nothing_done_are_asked_about(
    chat: Chat,
) -> None:
    await chat.seed("Buy groceries", "Fix the bike")
    reply = await chat.say("delete the first one")
    assert reply["response"] == (
        "I haven't shown you a list in this conversation. Which task do you mean? Tell me its"
        " number or part of its title."
    )
    assert len(await chat.tasks()) == 2
    reply = await chat.say("complete it")
    assert changes(reply) == []
    assert reply["response"] == "Which task do you mean? Tell me its number or part of its title."
    reply = await chat.say("the bike one")
    assert changes(reply) == [("complete_task", {"task_id": 2})]
    assert await chat.tasks() == [(1, "Buy groceries", False), (2, "Fix the bike", True)]


async def test_undo_brings_a_deleted_task_back_with_its_description(chat: Chat) -> None:
    await chat.say("add a task to renew the passport")
    reply = await chat.say("set the description of task 1 to photos are in the drawer")
    assert await chat.description(1) == "photos are in the drawer"
    await chat.say("delete the passport task")
    assert await chat.tasks() == []
    reply = await chat.say("undo that")
    assert changes(reply) == [
        ("add_task", {"title": "Renew the passport", "description": "photos are in the drawer"})
    ]
    assert reply["response"] == (
        'Undone: "Renew the passport" is back, as task 2 (a deleted task\'s number is not reused).'
    )
    assert await chat.tasks() == [(2, "Renew the passport", False)]
    assert await chat.description(2) == "photos are in the drawer"


async def test_undo_of_a_delete_says_what_it_could_not_bring_back(chat: Chat) -> None:
    await chat.seed("Email Sam", done=(1,))  # made elsewhere: its description is unknown here
    await chat.say("remove task 1")
    assert await chat.tasks() == []
    reply = await chat.say("oops, put it back")
    assert changes(reply) == [("add_task", {"title": "Email Sam"})]
    assert reply["response"] == (
        'Undone: "Email Sam" is back, as task 2 (a deleted task\'s number is not reused).'
        " It was done; it is open now. If it had a description, I couldn't bring that back."
    )
    assert await chat.tasks() == [(2, "Email Sam", False)]


async def test_undo_of_a_rename_restores_the_title_before_it(chat: Chat) -> None:
    await chat.seed("Call mom")
    await chat.say("change task 1 to Call mom tonight")
    assert await chat.tasks() == [(1, "Call mom tonight", False)]
    reply = await chat.say("undo")
    assert changes(reply) == [("update_task", {"task_id": 1, "title": "Call mom"})]
    assert reply["response"] == 'Undone: task 1 is "Call mom" again.'
    assert await chat.tasks() == [(1, "Call mom", False)]


async def test_undo_of_a_description_restores_it_only_when_it_is_known(chat: Chat) -> None:
    await chat.seed("Fix the bike")
    await chat.say("set the description of the bike task to the chain is rusty")
    reply = await chat.say("undo that")
    assert changes(reply) == []
    assert reply["response"] == (
        "I can't undo my change to task 1: I don't know what its description said before that"
        " change."
    )
    assert await chat.description(1) == "the chain is rusty"

    await chat.say("add a task to oil the chain")  # made here, with no description
    await chat.say("add a note to it: the can is in the shed")
    assert await chat.description(2) == "the can is in the shed"
    reply = await chat.say("undo")
    assert changes(reply) == [("update_task", {"task_id": 2, "description": ""})]
    assert reply["response"] == 'Undone: task 2 "Oil the chain" has its description as it was.'

    assert await chat.description(2) == ""


async def test_undo_of_a_completion_says_plainly_that_the_chat_cannot_reopen(chat: Chat) -> None:
    await chat.seed("Call mom")
    await chat.say("I finished calling mom")
    assert await chat.tasks() == [(1, "Call mom", True)]
    reply = await chat.say("undo that")
    assert changes(reply) == []
    assert reply["response"] == (
        'I can\'t reopen a task from the chat, so task 1 "Call mom" is still done. The tasks'
        f' API can reopen it: PATCH /api/{chat.user.id}/tasks/1 with {{"completed": false}}.'
    )
    assert await chat.tasks() == [(1, "Call mom", True)]


async def test_undo_walks_back_one_change_at_a_time_until_there_is_none(chat: Chat) -> None:
    await chat.say("add a task to buy milk")
    await chat.say("add a task to buy bread")
    reply = await chat.say("undo")
    assert changes(reply) == [("delete_task", {"task_id": 2})]
    assert reply["response"] == 'Undone: I deleted task 2 "Buy bread", which I had added.'
    assert await chat.tasks() == [(1, "Buy milk", False)]
    reply = await chat.say("undo")
    assert changes(reply) == [("delete_task", {"task_id": 1})]
    assert await chat.tasks() == []
    reply = await chat.say("undo")
    assert tools_called(reply) == []
    assert reply["response"] == (
        "There's nothing for me to undo: I haven't changed any of your tasks lately."
    )


async def test_undo_in_a_new_conversation_has_nothing_to_undo(chat: Chat) -> None:
    await chat.say("add a task to buy milk")
    chat.conversation_id = None
    reply = await chat.say("undo that")
    assert (tools_called(reply), reply["response"].split(":")[0]) == (
        [],
        "There's nothing for me to undo",
    )
    assert await chat.tasks() == [(1, "Buy milk", False)]


async def test_words_in_another_form_or_with_a_typo_find_the_task(chat: Chat) -> None:
    await chat.seed("Fix the bike", "Fix the bike lights", "Call the plumber")
    reply = await chat.say("I finished fixing the bike")
    assert changes(reply) == [("complete_task", {"task_id": 1})]
    assert [row[2] for row in await chat.tasks()] == [True, False, False]
    reply = await chat.say("delete the plumer task")
    assert changes(reply) == [("delete_task", {"task_id": 3})]
    assert [row[0] for row in await chat.tasks()] == [1, 2]


async def test_equally_good_matches_are_asked_about_and_open_ones_are_completed(
    chat: Chat,
) -> None:
    await chat.seed("Pay the rent", "Pay the rent", "Renew the bike lock", done=(1,))
    reply = await chat.say("I finished paying the rent")  # two match; only one is open
    assert changes(reply) == [("complete_task", {"task_id": 2})]
    assert [row[2] for row in await chat.tasks()] == [True, True, False]
    reply = await chat.say("delete the rent")
    assert reply["response"] == (
        'Which one do you mean: 1 "Pay the rent", 2 "Pay the rent"? Tell me its number.'
    )
    assert len(await chat.tasks()) == 3


async def test_answers_say_plainly_what_was_already_so_or_not_found(chat: Chat) -> None:
    await chat.seed("Call mom", "Buy milk", done=(1,))
    said = {
        "mark task 1 as complete": 'Task 1 "Call mom" was already done.',
        "I finished calling mom": 'Task 1 "Call mom" was already done.',
        "reopen task 2": 'Task 2 "Buy milk" is already open.',
        "reopen task 9": "Task 9 was not found.",
        "complete task 9": "Task 9 was not found.",
        "delete the unicorn task": 'I couldn\'t find a task matching "unicorn".',
        "rename task 2 to buy milk": 'Task 2 is already called "Buy milk".',
        "undo": "There's nothing for me to undo: I haven't changed any of your tasks lately.",
    }
    for message, answer in said.items():
        reply = await chat.say(message)
        assert reply["response"] == answer, message
        assert changes(reply) in ([], [("complete_task", {"task_id": 9})]), message
        assert await chat.tasks() == [(1, "Call mom", True), (2, "Buy milk", False)], message
