"""Log records whose news another output already shows.

A source going down is on its badge and in `monitor once`'s table; a reload's outcome has its
own notification and `monitor reload` prints it. The log keeps such records (the log screen,
files, journald), but the outputs that show the news themselves skip them rather than say it
twice. The record carries the mark, so nobody has to match message texts.
"""

from __future__ import annotations

import logging

SHOWN_ELSEWHERE = {"shown_elsewhere": True}
"""Pass as `extra=` to a log call whose news the source's health or a reload's status carries."""


def shown_elsewhere(record: logging.LogRecord) -> bool:
    return getattr(record, "shown_elsewhere", False) is True
