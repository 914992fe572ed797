"""Runs the alert engine on its own thread, once per new snapshot.

Pollers never evaluate alerts (a slow rule must not delay a collection) and readers never
wait for an evaluation: they take `current()`, an immutable AlertsView. Without new snapshots
the thread still wakes every TICK seconds, because time alone moves alerts (a `for` elapsing,
a source going stale).

A reload's new definitions are swapped in under a lock, with the state carried over (see
AlertEngine.reconfigured): the reloader's thread must not read the engine's state while an
evaluation changes it, nor an evaluation's result land on an engine already replaced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.engine import AlertEngine
from monitor.alerts.state import AlertEvent, AlertsView
from monitor.lognews import SHOWN_ELSEWHERE
from monitor.model import Snapshot
from monitor.store import MetricsStore

log = logging.getLogger(__name__)

TICK = 0.2
"""Also bounds how long stop() waits: the store has no way to wake a reader early."""
Listener = Callable[[list[AlertEvent]], None]


class AlertEvaluator:
    def __init__(
        self,
        rules: Sequence[AlertSettings],
        store: MetricsStore,
        *,
        clock: Callable[[], float] = time.time,
        listeners: Sequence[Listener] = (),
        tick: float = TICK,
    ) -> None:
        self.engine = AlertEngine(rules)
        self.store = store
        self.clock = clock
        self.listeners = list(listeners)
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def replace_rules(self, rules: Sequence[AlertSettings]) -> None:
        """Swap in new definitions (a config reload), keeping what still applies: unchanged
        alerts go on untouched, changed ones are re-evaluated keeping their active_since,
        firing instances of removed ones resolve. Those resolutions are logged and handed to
        the listeners by the next evaluation (on the evaluator's thread, within TICK), so they
        reach the notifier in effect after the reload, like any other resolution."""
        with self._lock:
            self.engine = self.engine.reconfigured(rules, self.clock())

    def current(self) -> AlertsView:
        return self.engine.view

    def evaluate_once(self, snapshot: Snapshot | None = None) -> list[AlertEvent]:
        """One evaluation (of the store's current snapshot by default): what the thread does
        each time it wakes up."""
        with self._lock:
            events = self.engine.evaluate(snapshot or self.store.snapshot(), self.clock())
        for event in events:
            log.log(
                logging.WARNING if event.state == "firing" else logging.INFO,
                "alert %s %s: %s",
                event.instance.alert,
                event.state,
                event.instance.summary,
                extra=SHOWN_ELSEWHERE,  # the dashboard's alert bar says it: no toast repeating it
            )
        if events:
            for listener in self.listeners:
                try:
                    listener(events)
                except Exception:
                    log.exception("alert listener %r failed; evaluation goes on", listener)
        return events

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        snapshot = self.store.snapshot()
        while not self._stop.is_set():
            try:
                self.evaluate_once(snapshot)
            except Exception:
                log.exception("alert evaluation failed; retrying on the next snapshot")
            snapshot = self.store.wait_for_change(snapshot.version, self.tick)

    def stop(self, timeout: float = 1.0) -> bool:
        """Return False if the thread had to be abandoned."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
