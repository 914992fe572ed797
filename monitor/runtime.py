"""Wires config, store and pollers together; the one object the CLI and the TUI start and
stop, so headless and dashboard modes run exactly the same engine."""

from __future__ import annotations

import logging

from monitor.config import Config
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = MetricsStore(history=config.history)
        self.scheduler = Scheduler(config, self.store)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, timeout: float = 2.0) -> list[str]:
        """Stop everything within `timeout`; return threads that had to be abandoned."""
        return self.scheduler.stop(timeout)
