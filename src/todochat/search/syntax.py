"""Web-search syntax: words, "quoted phrases", -exclusions and OR, as PostgreSQL reads it.

PostgreSQL parses a query itself (`websearch_to_tsquery`); SQLite's FTS5 has a syntax of its
own, into which every term is written as a quoted string, so no input can inject an operator.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A word or phrase to find, or (`excluded`) to keep out."""

    text: str
    excluded: bool = False


Groups = list[list[Term]]  # alternatives (OR) of terms that must all hold (AND)


def parse(query: str) -> Groups:
    """The query's alternatives, each the terms it requires or excludes."""
    groups: Groups = [[]]
    position, end = 0, len(query)
    while position < end:
        if query[position].isspace():
            position += 1
            continue
        excluded = (
            query[position] == "-" and position + 1 < end and not query[position + 1].isspace()
        )
        if excluded:
            position += 1
        if query[position] == '"':
            close = query.find('"', position + 1)
            close = end if close < 0 else close
            text, quoted = query[position + 1 : close], True
            position = close + 1
        else:
            start = position
            while position < end and not query[position].isspace() and query[position] != '"':
                position += 1
            text, quoted = query[start:position], False
        if not quoted and not excluded and text.lower() == "or":
            if groups[-1]:
                groups.append([])
        elif any(character.isalnum() for character in text):
            groups[-1].append(Term(text, excluded))
    return [group for group in groups if any(not term.excluded for term in group)]


def to_fts5(groups: Groups) -> str:
    """The FTS5 query for `groups` (which must hold at least one wanted term)."""
    alternatives = []
    for group in groups:
        clause = " AND ".join(_quoted(term) for term in group if not term.excluded)
        for term in group:
            if term.excluded:
                clause = f"({clause}) NOT {_quoted(term)}"
        alternatives.append(f"({clause})")
    return " OR ".join(alternatives)


def _quoted(term: Term) -> str:
    return '"' + term.text.replace('"', '""') + '"'
