"""Counts in messages: `1 source`, `2 sources`, from the CLI, the reloader, config summaries,
the dashboard and the sample validator alike."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
