"""Counts in messages: `1 source`, `2 sources`, from the CLI, the reloader, config summaries,
the dashboard and the sample validator alike."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def with_article(noun: str) -> str:
    """`a str`, `an int`: for messages naming a type or kind. By the first letter, which is right
    for Python's type names (`an int`, `an object`, `a list`)."""
    article = "an" if noun and noun[0].lower() in "aeiou" else "a"
    return f"{article} {noun}"


def as_typed(text: str) -> str:
    """What the user typed (a filter), quoted as typed: repr() doubled a backslash and switched
    to double quotes around a quote, so the message did not show what was typed."""
    return f"'{text}'"
