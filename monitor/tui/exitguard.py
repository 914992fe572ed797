"""The last resort when the dashboard cannot finish exiting on its own.

Once the terminal is gone (window closed, ssh dropped, `tmux kill-server`), Textual's shutdown
can block for ever writing the last frame to it: its writer thread is stuck on the dead
terminal and the queue to it is full. The process then lived on with no screen, still polling,
serving /metrics and holding its port, deaf to SIGTERM. Armed when an exit is asked for, the
guard stops the engine and ends the process if the exit has not happened within its grace.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Protocol

EXIT_GRACE = 5.0
"""Seconds a normal exit may take: the engine's own stop takes about 2 at most."""
EXIT_CODE = 1


class Stoppable(Protocol):
    def stop(self, timeout: float = ...) -> list[str]: ...


class ExitGuard:
    def __init__(
        self,
        runtime: Stoppable,
        grace: float = EXIT_GRACE,
        end_process: Callable[[int], None] = os._exit,
    ) -> None:
        self._runtime = runtime
        self._grace = grace
        self._end_process = end_process
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Start the countdown (once; later calls change nothing)."""
        if self._timer is None:
            self._timer = threading.Timer(self._grace, self._force_exit)
            self._timer.daemon = True
            self._timer.name = "monitor-exit-guard"
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _force_exit(self) -> None:
        try:
            self._runtime.stop(timeout=1.0)
        finally:
            self._end_process(EXIT_CODE)
