"""The evaluator and its optional webhook notifier as one unit, which the Runtime starts, stops
and hands a reloaded config to."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import Metric

from monitor.alerts.definitions import WebhookSettings
from monitor.alerts.evaluator import AlertEvaluator
from monitor.alerts.state import AlertEvent, AlertInstance, AlertState, AlertsView
from monitor.alerts.webhook import WebhookNotifier
from monitor.config import Config
from monitor.redaction import make_redactor
from monitor.store import MetricsStore

log = logging.getLogger(__name__)


class Alerting:
    def __init__(self, config: Config, store: MetricsStore, clock: Callable[[], float] = time.time) -> None:
        self._secrets = config.secrets
        self._redact = make_redactor(self._secrets)
        self.evaluator = AlertEvaluator(config.alerts, store, clock=clock, listeners=[self._notify])
        self.notifier = self._notifier(config.webhook) if config.webhook is not None else None
        self._started = False

    def current(self) -> AlertsView:
        return self.evaluator.current()

    def _firing(self) -> tuple[AlertInstance, ...]:
        return self.evaluator.current().in_state(AlertState.FIRING)

    def _notifier(self, settings: WebhookSettings) -> WebhookNotifier:
        """It reads what fires from the evaluator's view: to tell a receiver added by a reload
        or a new URL, and to repeat (repeat_interval)."""
        return WebhookNotifier(settings, firing=self._firing, redact=lambda text: self._redact(text))

    def _notify(self, events: list[AlertEvent]) -> None:
        """The evaluator's listener: the webhook gets the events and every alert firing after
        them (the view this evaluation just made), so each POST holds its alertname's whole
        firing group, as Alertmanager's do."""
        notifier = self.notifier
        if notifier is not None:
            notifier(events, self._firing())

    def configure(self, config: Config) -> None:
        """Apply a reloaded config: changed alerts go to the evaluator (replace_rules says
        what becomes of their state). Changed webhook settings apply to the messages not yet
        delivered too, which are kept; a webhook removed from the config abandons them (logged)."""
        # Secrets are only ever added: a webhook a reload removed still logs (its messages
        # abandoned) with the URL of the config that had it.
        self._secrets |= config.secrets
        self._redact = make_redactor(self._secrets)
        old = self.notifier
        if config.alerts != self.evaluator.engine.rules:
            self.evaluator.replace_rules(config.alerts)
            if self._started and config.alerts and not self.evaluator.alive():
                self.evaluator.start()
        if old is not None and config.webhook is not None:
            old.reconfigure(config.webhook)
        elif old is not None:
            log.warning("the webhook was removed from the config; alerts are no longer POSTed to %s", old.url)
            self.notifier = None
            old.stop()
        elif config.webhook is not None:
            self.notifier = self._notifier(config.webhook)
            if self._started:
                self.notifier.start()

    def collect(self) -> Iterator[Metric]:
        """prometheus_client Collector protocol: the webhook's counters, while one is
        configured. Kept across reloads that change its settings (the notifier stays)."""
        notifier = self.notifier
        if notifier is not None:
            yield from notifier.collect()

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
