"""The alert state machine: one evaluation per snapshot, Prometheus's `for` semantics.

At each evaluation every series matching an alert's condition is active. A newly active series
is pending from that moment; it fires at the first evaluation at least `for` later (at once when
`for` is 0). A pending series whose condition stops holding is dropped without ever firing, so a
value flapping around the threshold never fires before it has held for `for`. A firing series
whose condition stops holding is resolved, and kept visible for RESOLVED_RETENTION.

Single-threaded and clock-free: the caller passes `now`, so tests drive time directly.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, replace

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.state import AlertEvent, AlertInstance, AlertState, AlertsView
from monitor.alerts.template import format_value, render
from monitor.model import Labels, MetricSpec, MetricType, Snapshot, SourceData, SourceState

RESOLVED_RETENTION = 900.0
"""Seconds a resolved alert stays listed (Prometheus keeps them 15 minutes too)."""
HISTORY_SIZE = 500


def exposed_name(name: str, spec: MetricSpec | None) -> str:
    """The name a series has on /metrics: counters always end in _total there."""
    if spec is not None and spec.type is MetricType.COUNTER:
        return name.removesuffix("_total") + "_total"
    return name


@dataclass(frozen=True, slots=True)
class Match:
    labels: Labels
    value: float


class AlertEngine:
    def __init__(self, rules: Sequence[AlertSettings], history_size: int = HISTORY_SIZE) -> None:
        self.rules = tuple(rules)
        self._instances: dict[tuple[int, Labels], AlertInstance] = {}
        self._cache: dict[int, tuple[int, list[Match]]] = {}
        self._history: collections.deque[AlertEvent] = collections.deque(maxlen=history_size)
        self._version = 0
        self.view = AlertsView(rules=tuple((r.name, r.severity, r.source) for r in self.rules))

    def evaluate(self, snapshot: Snapshot, now: float) -> list[AlertEvent]:
        """Advance every alert to `now`; return the firing and resolved transitions."""
        events: list[AlertEvent] = []
        for index, rule in enumerate(self.rules):
            source = snapshot.sources.get(rule.source)
            active = {m.labels: m for m in self._matches(index, rule, source, now)}
            for labels, match in active.items():
                event = self._hold(index, rule, labels, match.value, now)
                if event is not None:
                    events.append(event)
            for key in [k for k in self._instances if k[0] == index and k[1] not in active]:
                event = self._release(key, now)
                if event is not None:
                    events.append(event)
        self._history.extend(events)
        self._version += 1
        self.view = AlertsView(
            version=self._version,
            time=now,
            rules=self.view.rules,
            alerts=tuple(sorted(self._instances.values(), key=AlertInstance.sort_key)),
            history=tuple(self._history),
        )
        return events

    def _matches(self, index: int, rule: AlertSettings, source: SourceData | None, now: float) -> list[Match]:
        if source is None:
            return []
        state = source.state(now)
        if rule.condition == "down":
            return [Match((), 0.0)] if state is SourceState.DOWN else []
        if rule.condition == "stale":
            return [Match((), 1.0)] if state is SourceState.STALE else []
        if state is not SourceState.UP:
            return []  # /metrics shows no values then, so Prometheus would see none either
        cached = self._cache.get(index)
        if cached is not None and cached[0] == source.version:
            return cached[1]
        assert rule.op is not None and rule.threshold is not None
        matchers = rule.matchers
        found = []
        static = dict(source.labels)
        for (name, series_labels), value in source.series.items():
            if name != rule.metric and exposed_name(name, source.specs.get(name)) != rule.metric:
                continue
            labels = {**static, **dict(series_labels)}
            if all(m.matches(labels) for m in matchers) and rule.op.holds(value, rule.threshold):
                found.append(Match(tuple(sorted(labels.items())), value))
        self._cache[index] = (source.version, found)
        return found

    def _hold(
        self, index: int, rule: AlertSettings, labels: Labels, value: float, now: float
    ) -> AlertEvent | None:
        key = (index, labels)
        current = self._instances.get(key)
        if current is None or current.state is AlertState.RESOLVED:
            current = AlertInstance(
                alert=rule.name,
                severity=rule.severity,
                source=rule.source,
                labels=labels,
                state=AlertState.PENDING,
                value=value,
                summary="",
                active_since=now,
            )
        fires = current.state is AlertState.PENDING and now - (current.active_since or now) >= rule.for_
        state = AlertState.FIRING if fires or current.state is AlertState.FIRING else AlertState.PENDING
        updated = replace(
            current,
            state=state,
            value=value,
            summary=self._summary(rule, labels, value),
            fired_at=now if fires else current.fired_at,
        )
        self._instances[key] = updated
        return AlertEvent(now, updated) if fires else None

    def _release(self, key: tuple[int, Labels], now: float) -> AlertEvent | None:
        current = self._instances[key]
        if current.state is AlertState.FIRING:
            resolved = replace(current, state=AlertState.RESOLVED, resolved_at=now)
            self._instances[key] = resolved
            return AlertEvent(now, resolved)
        if current.state is AlertState.PENDING or now - (current.resolved_at or now) >= RESOLVED_RETENTION:
            del self._instances[key]
        return None

    @staticmethod
    def _summary(rule: AlertSettings, labels: Labels, value: float) -> str:
        fields = {
            "value": format_value(value),
            "source": rule.source,
            "threshold": format_value(rule.threshold),
            "alertname": rule.name,
            "severity": str(rule.severity),
        }
        return render(rule.summary_template, fields, dict(labels))
