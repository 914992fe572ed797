"""Time as the scheduler sees it, injectable so schedule tests run without sleeping."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def wait_until(self, deadline: float, stop: threading.Event) -> bool:
        """Sleep until the monotonic `deadline`; return True if `stop` was set meanwhile."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def wait_until(self, deadline: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, deadline - time.monotonic()))


SYSTEM_CLOCK = SystemClock()
