"""The `monitor` command's entry point, kept apart from monitor.cli so that it can hold SIGHUP
before the heavy imports, and so that importing monitor.cli (tests, embedding code) changes
no signal handling."""

from __future__ import annotations

import signal
from collections.abc import Callable


class EarlyHangup:
    """Holds a SIGHUP that arrives before the real handler is installed.

    Installing that one needs the heavy imports, the config and the runtime: 0.2-0.7 s in which
    SIGHUP's default action killed a fresh `monitor --headless` silently (exit 129, empty log),
    so `systemctl reload` right after start, or config management's "start, then reload", took
    the exporter down. This handler is installed before anything else is imported and only
    records the signal; `_run` replaces it with the real one and acts on a recorded HUP as the
    real one would have. Commands that run no monitor get SIGHUP's default action back at once
    (and die of a HUP that came early, as before)."""

    def __init__(self) -> None:
        self.installed = False
        self.received = False

    def install(self) -> None:
        try:
            if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
                signal.signal(signal.SIGHUP, self._record)
                self.installed = True
        except ValueError:  # called outside the main thread (embedding code): not our process
            pass

    def _record(self, _signum: int, _frame: object) -> None:
        self.received = True

    def hand_over(self, handler: Callable[[int, object], None]) -> bool:
        """Install the real handler; True if a HUP came in before it."""
        signal.signal(signal.SIGHUP, handler)
        self.installed = False
        received, self.received = self.received, False
        return received

    def release(self) -> None:
        """Back to SIGHUP's default action, delivering a HUP that came in meanwhile."""
        if not self.installed:
            return
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        self.installed = False
        if self.received:
            self.received = False
            signal.raise_signal(signal.SIGHUP)


EARLY_HANGUP = EarlyHangup()


def main(argv: list[str] | None = None) -> int:
    EARLY_HANGUP.install()
    from monitor.cli import main as run  # the heavy imports, with a SIGHUP held meanwhile

    return run(argv)
