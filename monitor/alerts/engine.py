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
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.state import AlertEvent, AlertInstance, AlertState, AlertsView
from monitor.alerts.template import format_value, render
from monitor.model import Labels, MetricSpec, MetricType, Snapshot, SourceData, SourceState, Unit

RESOLVED_RETENTION = 900.0
"""Seconds a resolved alert stays listed (Prometheus keeps them 15 minutes too)."""
HISTORY_SIZE = 500
VALUES_CHANGED = 1
STRUCTURE_CHANGED = 2


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
        self._instances: list[dict[Labels, AlertInstance]] = [{} for _ in self.rules]
        self._cache: dict[int, tuple[int, list[Match]]] = {}
        self._seen: list[SourceData | None] = [None] * len(self.rules)
        """Per alert, its source as last evaluated (SourceData is replaced whenever it changes)."""
        self._wake: list[float] = [math.inf] * len(self.rules)
        """Per alert, when time alone next changes something: a `for` ends, a resolved alert
        expires, the source turns stale."""
        self._history: collections.deque[AlertEvent] = collections.deque(maxlen=history_size)
        self._version = 0
        self._order: list[tuple[int, Labels]] = []
        """(alert index, labels) of every instance in display order; re-sorted only when
        instances come, go or change state, not when only their values change."""
        self.view = AlertsView(rules=tuple((r.name, r.severity, r.source) for r in self.rules))

    def evaluate(self, snapshot: Snapshot, now: float) -> list[AlertEvent]:
        """Advance every alert to `now`; return the firing and resolved transitions.

        An alert whose source has not changed since its last evaluation, and for which no time
        limit has passed, is skipped: after one source's publish, only the alerts on that
        source do any work.
        """
        events: list[AlertEvent] = []
        changed = 0
        sources = snapshot.sources
        for index, rule in enumerate(self.rules):
            source = sources.get(rule.source)
            if source is self._seen[index] and now < self._wake[index]:
                continue
            self._seen[index] = source
            changed = max(changed, self._evaluate_rule(index, rule, source, now, events))
        if events:
            self._history.extend(events)
        if changed:
            # Readers compare versions to redraw: bump it only when something they show changed.
            self._version += 1
            if changed == STRUCTURE_CHANGED:
                instances = itertools.chain.from_iterable(
                    ((index, labels, i) for labels, i in by_labels.items())
                    for index, by_labels in enumerate(self._instances)
                )
                self._order = [
                    (i, labels) for i, labels, _ in sorted(instances, key=lambda t: t[2].sort_key())
                ]
            alerts = [self._instances[index][labels] for index, labels in self._order]
            history = tuple(self._history) if events else self.view.history
            self.view = AlertsView(self._version, now, self.view.rules, tuple(alerts), history)
        return events

    def _evaluate_rule(
        self, index: int, rule: AlertSettings, source: SourceData | None, now: float, events: list[AlertEvent]
    ) -> int:
        """Update one alert's instances; return what changed: nothing (0), only values
        (VALUES_CHANGED) or which instances exist or their states (STRUCTURE_CHANGED)."""
        instances = self._instances[index]
        active = {m.labels: m.value for m in self._matches(index, rule, source, now)}
        unit = _unit(rule, source) if active else Unit.NONE  # only a summary needs it
        changed = 0
        for labels, value in active.items():
            current = instances.get(labels)
            updated = self._hold(rule, current, labels, value, now, unit)
            if updated is not current:
                instances[labels] = updated
                same = current is not None and current.state is updated.state
                changed = max(changed, VALUES_CHANGED if same else STRUCTURE_CHANGED)
                if updated.state is AlertState.FIRING and (
                    current is None or current.state is not AlertState.FIRING
                ):
                    events.append(AlertEvent(now, updated))
        for labels in [labels for labels in instances if labels not in active]:
            current = instances[labels]
            if current.state is AlertState.FIRING:
                instances[labels] = replace(current, state=AlertState.RESOLVED, resolved_at=now)
                events.append(AlertEvent(now, instances[labels]))
            elif (
                current.state is AlertState.PENDING
                or now - (current.resolved_at or now) >= RESOLVED_RETENTION
            ):
                del instances[labels]
            else:
                continue
            changed = STRUCTURE_CHANGED
        self._wake[index] = _wake_time(rule, instances.values(), source, now)
        return changed

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
        # `source` is on every series of /metrics, so a rule may match it, as its Prometheus
        # twin (`monitor rules`) does; here it is the same for all of the source's series.
        if not all(m.matches({"source": source.name}) for m in rule.matchers if m.name == "source"):
            return []
        matchers = [m for m in rule.matchers if m.name != "source"]
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
        self,
        rule: AlertSettings,
        current: AlertInstance | None,
        labels: Labels,
        value: float,
        now: float,
        unit: Unit,
    ) -> AlertInstance:
        """The instance after its condition held at `now` (the same object when nothing changed)."""
        if current is None or current.state is AlertState.RESOLVED:
            return replace(
                AlertInstance(
                    rule.name, rule.severity, rule.source, labels, AlertState.PENDING, None, "", now
                ),
                **self._valued(rule, labels, value, unit, now, fires=rule.for_ <= 0),
            )
        fires = current.state is AlertState.PENDING and now - (current.active_since or now) >= rule.for_
        if not fires and current.value == value:
            return current
        return replace(current, **self._valued(rule, labels, value, unit, now, fires))

    def _valued(
        self, rule: AlertSettings, labels: Labels, value: float, unit: Unit, now: float, fires: bool
    ) -> dict:
        fields: dict = {"value": value, "unit": unit, "summary": self._summary(rule, labels, value, unit)}
        if fires:
            fields.update(state=AlertState.FIRING, fired_at=now)
        return fields

    @staticmethod
    def _summary(rule: AlertSettings, labels: Labels, value: float, unit: Unit) -> str:
        fields = {
            "value": format_value(value, unit),
            "source": rule.source,
            "threshold": format_value(rule.threshold, unit),
            "alertname": rule.name,
            "severity": str(rule.severity),
        }
        return render(rule.summary_template, fields, dict(labels))


def _unit(rule: AlertSettings, source: SourceData | None) -> Unit:
    """The unit of the metric the alert compares, from the source's declarations."""
    if rule.metric is None or source is None:
        return Unit.NONE
    spec = source.specs.get(rule.metric) or next(
        (s for name, s in source.specs.items() if exposed_name(name, s) == rule.metric), None
    )
    return spec.unit if spec is not None else Unit.NONE


def _wake_time(
    rule: AlertSettings, instances: Iterable[AlertInstance], source: SourceData | None, now: float
) -> float:
    """The earliest time at which the passing of time alone could change this alert."""
    times = [
        (i.active_since or now) + rule.for_
        if i.state is AlertState.PENDING
        else (i.resolved_at or now) + RESOLVED_RETENTION
        for i in instances
        if i.state in (AlertState.PENDING, AlertState.RESOLVED)
    ]
    health = source.health if source is not None else None
    if health is not None and health.up and health.last_success is not None:
        times.append(health.last_success + health.stale_after)  # when it would turn stale
    return min(times, default=math.inf)
