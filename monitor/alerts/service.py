"""The evaluator and its optional webhook notifier as one unit, which the Runtime starts, stops
and hands a reloaded config to."""

from __future__ import annotations

import time
from collections.abc import Callable

from monitor.alerts.evaluator import AlertEvaluator
from monitor.alerts.state import AlertsView
from monitor.alerts.webhook import WebhookNotifier
from monitor.config import Config
from monitor.store import MetricsStore


class Alerting:
    def __init__(self, config: Config, store: MetricsStore, clock: Callable[[], float] = time.time) -> None:
        self.evaluator = AlertEvaluator(config.alerts, store, clock=clock)
        self.notifier: WebhookNotifier | None = None
        self._set_webhook(config)
        self._started = False

    def current(self) -> AlertsView:
        return self.evaluator.current()

    def _set_webhook(self, config: Config) -> None:
        self.notifier = WebhookNotifier(config.webhook) if config.webhook is not None else None
        self.evaluator.listeners = [self.notifier] if self.notifier is not None else []

    def configure(self, config: Config) -> None:
        """Apply a reloaded config: if the alerts changed, every alert starts over from
        inactive (a firing one fires again once it holds); a changed webhook replaces the notifier."""
        if config.alerts != self.evaluator.engine.rules:
            self.evaluator.replace_rules(config.alerts)
            if self._started and config.alerts and not self.evaluator.alive():
                self.evaluator.start()
        old = self.notifier
        if (old.settings if old is not None else None) != config.webhook:
            self._set_webhook(config)
            if old is not None:
                old.stop()
            if self._started and self.notifier is not None:
                self.notifier.start()

    def start(self) -> None:
        """Without alerts no thread runs: nothing would wake per publish for nothing."""
        if self.notifier is not None:
            self.notifier.start()
        if self.evaluator.engine.rules:
            self.evaluator.start()
        self._started = True

    def stop(self, timeout: float = 1.0) -> bool:
        """Return False if a thread had to be abandoned."""
        self._started = False
        stopped = self.evaluator.stop(timeout * 0.8)
        return (self.notifier.stop(timeout * 0.2) if self.notifier is not None else True) and stopped
