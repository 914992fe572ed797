"""The Runtime's alerting unit: no thread without alerts, and a reloaded config takes effect."""

from __future__ import annotations

import time

from alerts_support import Clock, Fleet

from monitor.alerts.service import Alerting
from monitor.config import parse_config

BASE = "sources:\n  - name: local\n    collector: system\n"
WITH_ALERT = BASE + "alerts:\n  - {name: Busy, source: local, metric: system_load1, op: '>', threshold: 1}\n"


def test_no_thread_runs_without_alerts_and_a_reload_that_adds_one_starts_it() -> None:
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add()
    alerting = Alerting(parse_config(BASE), fleet.store, clock=clock)
    alerting.start()
    try:
        assert not alerting.evaluator.alive()
        alerting.configure(parse_config(WITH_ALERT))
        assert alerting.evaluator.alive()
        fleet.publish({("system_load1", ()): 4.0})
        end = time.monotonic() + 10
        while not alerting.current().alerts and time.monotonic() < end:
            time.sleep(0.02)
        assert [(a.alert, str(a.state), a.value) for a in alerting.current().alerts] == [
            ("Busy", "firing", 4.0)
        ]
        alerting.configure(parse_config(BASE))
        assert alerting.current().rules == ()
    finally:
        assert alerting.stop(2.0)
    assert not alerting.evaluator.alive()
