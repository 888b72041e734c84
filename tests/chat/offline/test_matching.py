"""Titles are found by the meaning of the words said, not their exact form."""

import pytest

from todochat.chat.offline.matching import best

TITLES = [
    "Fix the bike",
    "Fix the bike lights",
    "Call dentist",
    "Dentist checkup",
    "Call the plumber about the leak",
    "Buy groceries",
]


@pytest.mark.parametrize(
    ("phrase", "found"),
    [
        ("fixing the bike", ["Fix the bike"]),  # every word of one title, in another form
        ("fixed bike lights", ["Fix the bike lights"]),
        ("the plumber", ["Call the plumber about the leak"]),
        ("calling the plumber", ["Call the plumber about the leak"]),
        ("plumer", ["Call the plumber about the leak"]),  # a letter missing
        ("groecries", ["Buy groceries"]),  # two letters swapped
        ("grocery", ["Buy groceries"]),  # singular for plural
        ("bought groceries", ["Buy groceries"]),  # a past form no stemmer knows
        ("call dentist", ["Call dentist"]),
        ("CALL DENTIST!", ["Call dentist"]),
        ("dentist", ["Call dentist", "Dentist checkup"]),  # equally good: ask
        ("bike", ["Fix the bike", "Fix the bike lights"]),
        ("reading the book", []),
        ("the", []),
    ],
)
def test_the_titles_a_phrase_names_best(phrase: str, found: list[str]) -> None:
    assert [TITLES[i] for i in best(phrase, TITLES)] == found


def test_a_short_word_with_a_slip_is_another_word() -> None:
    assert best("car", ["Feed the cat"]) == []
