"""The alerts on /metrics (monitor_alert_state) and as JSON (/api/v1/alerts).

Read from the evaluator's immutable AlertsView, built fresh per scrape like every family here:
a handful of series, so there is nothing worth caching.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.metrics_core import Metric

from monitor.alerts.state import AlertInstance, AlertsView
from monitor.alerts.webhook import alert_labels
from monitor.exporter.api import _number

AlertsSource = Callable[[], AlertsView]
STATE_HELP = (
    "State of each alert: 0 inactive or resolved, 1 pending, 2 firing (one series per alerting series)."
)


class AlertStateCollector:
    """A prometheus_client Collector: one sample per configured alert that is not active, and
    one per pending or firing instance with the labels of the series it fired on."""

    def __init__(self, alerts: AlertsSource) -> None:
        self.alerts = alerts

    def collect(self) -> Iterator[Metric]:
        view = self.alerts()
        family = Metric("monitor_alert_state", STATE_HELP, "gauge")
        series: dict[tuple[tuple[str, str], ...], float] = {}
        active = {(a.alert, a.source) for a in view.alerts if a.state.gauge}
        for name, severity, source in view.rules:
            if (name, source) not in active:
                labels = {"alertname": name, "severity": str(severity), "source": source}
                series.setdefault(tuple(labels.items()), 0.0)
        for instance in view.alerts:
            if instance.state.gauge:
                key = tuple(alert_labels(instance).items())
                series[key] = max(series.get(key, 0.0), instance.state.gauge)
        for labels, value in series.items():  # two alerts may share a name: one series each
            family.add_sample(family.name, dict(labels), value)
        yield family


def instance_json(instance: AlertInstance) -> dict[str, Any]:
    return {
        "name": instance.alert,
        "state": str(instance.state),
        "severity": str(instance.severity),
        "source": instance.source,
        "labels": dict(instance.labels),
        "value": None if instance.value is None else _number(instance.value),
        "summary": instance.summary,
        "active_since": instance.active_since,
        "fired_at": instance.fired_at,
        "resolved_at": instance.resolved_at,
        "keep_firing_since": instance.keep_firing_since,
    }


def alerts_json(view: AlertsView, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """`time` is when the answer was made, not `view.time`: the engine replaces its view only
    when something in it changed, so that is 0 until an alert first goes pending (and forever
    without alerts, when no evaluator runs) and then the time of the last change. The states
    themselves are current: the evaluator looks at every new snapshot and every 0.2 s."""
    active = {(a.alert, a.source) for a in view.alerts}
    return {
        "time": clock(),
        "alerts": [instance_json(instance) for instance in view.alerts],
        "inactive": [
            {"name": name, "severity": str(severity), "source": source}
            for name, severity, source in view.rules
            if (name, source) not in active
        ],
        "history": [{"time": event.time, **instance_json(event.instance)} for event in view.history],
    }
