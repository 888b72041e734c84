"""The offline assistant's grammar: each message read as one intent, by a rule that is named."""

import pytest

from tests.chat.offline.test_phrasings import PHRASINGS
from todochat.chat.offline import Intent, understand
from todochat.chat.offline.grammar import (
    RULES,
    Nothing,
    Number,
    Place,
    Pronoun,
    Reference,
    Words,
    reference,
)


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("add a task to buy groceries", Intent("add", {"title": "Buy groceries"})),
        ("ADD A TASK TO BUY GROCERIES!!", Intent("add", {"title": "BUY GROCERIES"})),
        ("Please add buy milk to my list, thanks", Intent("add", {"title": "Buy milk"})),
        ("Could you create a new task: walk the dog?", Intent("add", {"title": "Walk the dog"})),
        ("remind me to call the dentist", Intent("add", {"title": "Call the dentist"})),
        ('Add "to do: call mom"', Intent("add", {"title": "To do: call mom"})),
        ("I should probably call the plumber", Intent("add", {"title": "Call the plumber"})),
        ("show me my tasks please", Intent("list", {"status": "all"})),
        ("what's still left to do?", Intent("list", {"status": "pending"})),
        ("Can you show me what I have left?", Intent("list", {"status": "pending"})),
        ("list completed tasks", Intent("list", {"status": "completed"})),
        ("what have i finished", Intent("list", {"status": "completed"})),
        ("mark task #3 as done.", Intent("complete", {"ref": "task #3"})),
        ("task 2 is finished", Intent("complete", {"ref": "task 2"})),
        ("I finished the report", Intent("complete", {"ref": "the report"})),
        ("Mark \u2018Call mom\u2019 as done", Intent("complete", {"ref": "'Call mom'"})),
        ("mark task 3 as not done", Intent("reopen", {"ref": "task 3"})),
        ("Could you remove task #4, thanks!", Intent("delete", {"ref": "task #4"})),
        ("cancel the dentist task", Intent("delete", {"ref": "the dentist task"})),
        (
            "rename the groceries task to Buy fruit",
            Intent("update", {"ref": "the groceries task", "new": "Buy fruit"}),
        ),
        (
            "set the description of task 2 to bring ID",
            Intent("describe", {"ref": "task 2", "new": "bring ID"}),
        ),
        ("the second one", Intent("choose", {"ref": "the second one"})),
        ("undo that", Intent("undo", {})),
        ("hello", Intent("help", {})),
        ("hi there", Intent("help", {})),
        ("thanks!", Intent("thanks", {})),
        ("never mind", Intent("dismiss", {})),
        ("what's the weather like?", None),
        ("", Intent("help", {})),
    ],
)
def test_variations_of_the_commands_are_understood(message: str, intent: Intent | None) -> None:
    assert understand(message) == intent


def test_a_decision_names_the_rule_that_made_it() -> None:
    intent = understand("I should call the plumber about the leak")
    assert intent is not None
    assert intent.rule == "intend-should"
    assert "intend-should" in repr(intent)


def test_every_rule_of_the_grammar_is_used_by_a_phrasing_of_the_table() -> None:
    used = {intent.rule for message, *_ in PHRASINGS if (intent := understand(message))}
    assert [rule.name for rule in RULES if rule.name not in used] == []


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("phrase", "named"),
    [
        ("task 3", Number(3, explicit=True)),
        ("#12", Number(12, explicit=True)),
        ("task number 4", Number(4, explicit=True)),
        ("2", Number(2, explicit=False)),
        ("number two", Number(2, explicit=False)),
        ("the first one", Place(0)),
        ("the second", Place(1)),
        ("3rd", Place(2)),
        ("the last one", Place(-1)),
        ("it", Pronoun()),
        ("that one", Pronoun()),
        ("the one you just added", Pronoun()),
        ("the plumber task", Words("plumber")),
        ("fixing the bike", Words("fixing the bike")),
        ("'Call mom'", Words("Call mom", quoted=True)),
        ("the task", Nothing()),
    ],
)
def test_a_reference_names_a_task_by_number_place_pronoun_or_words(
    phrase: str, named: Reference
) -> None:
    assert reference(phrase) == named
