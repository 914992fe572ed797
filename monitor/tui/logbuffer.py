"""Keeps log records in memory while the dashboard owns the terminal.

A log line written to stderr would tear through Textual's screen, so `run_dashboard`
swaps the root handlers for this buffer; the app shows warnings as notifications and
everything on the log screen. A line is printable() as the record comes in, once: a message
quotes what servers and commands said. Pollers log from their threads: the buffer only appends
under a lock, it never calls into Textual.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from monitor.lognews import shown_elsewhere
from monitor.printable import PrintableFormatter

CAPACITY = 1000
FORMAT = PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")


@dataclass(frozen=True, slots=True)
class LogLine:
    number: int
    level: int
    text: str
    message: str
    shown_elsewhere: bool = False
    """Its news is on screen already (a source's badge, a reload's notification): no toast."""


class LogBuffer(logging.Handler):
    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(logging.DEBUG)
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._count = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = FORMAT.format(record)
            message = record.getMessage()  # for a notification: MonitorApp.notify makes it printable
        except (TypeError, ValueError, KeyError):  # a broken log call must not kill a poller
            self.handleError(record)
            return
        with self._guard:
            self._count += 1
            line = LogLine(self._count, record.levelno, text, message, shown_elsewhere(record))
            self._lines.append(line)

    def since(self, number: int) -> list[LogLine]:
        """Lines newer than line `number` (0: everything still kept)."""
        with self._guard:
            return [line for line in self._lines if line.number > number]
