"""Finding the titles a person means by the words they use, whatever form the words take."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from rapidfuzz.distance import OSA

# Words that say nothing about which task is meant.
STOPWORDS = frozenset(
    (  # noqa: SIM905 (a list of words reads best as words)
        "a an the my our your to of for and or on in at with from about by up it its this that"
        " task tasks todo to-do item items one thing things stuff list reminder"
    ).split()
)
# Past forms a stemmer cannot bring back to their verb: "I paid the rent" is "Pay the rent".
IRREGULAR_PAST = {
    "bought": "buy",
    "brought": "bring",
    "did": "do",
    "drove": "drive",
    "fed": "feed",
    "found": "find",
    "gave": "give",
    "got": "get",
    "had": "have",
    "kept": "keep",
    "left": "leave",
    "made": "make",
    "met": "meet",
    "paid": "pay",
    "ran": "run",
    "sent": "send",
    "sold": "sell",
    "spoke": "speak",
    "swept": "sweep",
    "took": "take",
    "taught": "teach",
    "told": "tell",
    "went": "go",
    "wrote": "write",
}
_STEMMER = snowballstemmer.stemmer("english")
_SHORTEST_TYPO = 4  # a slip in a shorter word makes another word ("cat", "car")
_SHORTEST_PREFIX = 3


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """The word's stem: "fixing", "fixed" and "fix" share one."""
    return str(_STEMMER.stemWord(word))


@dataclass(frozen=True)
class _Word:
    said: str
    stem: str


def _words(text: str) -> list[_Word]:
    found = re.findall(r"[^\W_]+", text.lower())
    return [
        _Word(w, stem(IRREGULAR_PAST.get(w, w)))
        for w in found
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit())
    ]


def names_something(phrase: str) -> bool:
    """Whether a phrase has a word that could name a task ("the task" has none)."""
    return bool(_words(phrase))


def _closeness(said: _Word, written: _Word) -> int:
    """2 for the same word in any form, 1 for a typo or the start of a word, 0 for another."""
    if said.stem == written.stem or said.said == written.said:
        return 2
    if len(said.said) >= _SHORTEST_PREFIX and written.said.startswith(said.said):
        return 1
    pairs = ((said.stem, written.stem), (said.said, written.said))
    return int(
        any(
            min(len(a), len(b)) >= _SHORTEST_TYPO and OSA.distance(a, b, score_cutoff=1) <= 1
            for a, b in pairs
        )
    )


@dataclass(frozen=True, order=True)
class Likeness:
    """How well a phrase names a title; a greater likeness is a better match."""

    same_text: bool  # the title itself, ignoring case and punctuation
    whole_title: bool  # every word of the title was said, in some form
    closeness: int  # the sum over the words said


def _normal(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def likeness(phrase: str, title: str) -> Likeness | None:
    """How well `phrase` names `title`; None unless every word of the phrase is in the title."""
    said, written = _words(phrase), _words(title)
    if _normal(phrase) == _normal(title):
        return Likeness(True, True, 2 * len(said))
    if not said:
        return None
    scores = [max((_closeness(s, w) for w in written), default=0) for s in said]
    if not all(scores):
        return None
    whole = all(any(_closeness(s, w) == 2 for s in said) for w in written)
    return Likeness(False, whole, sum(scores))


def best(phrase: str, titles: Sequence[str]) -> list[int]:
    """The positions of the titles `phrase` names best; several when they tie, none if none."""
    found = [(likeness(phrase, title), i) for i, title in enumerate(titles)]
    ranked = [(like, i) for like, i in found if like is not None]
    if not ranked:
        return []
    top = max(like for like, _ in ranked)
    return [i for like, i in ranked if like == top]
