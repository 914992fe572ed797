"""The alert state machine: one evaluation per snapshot, Prometheus's `for` semantics.

At each evaluation every series matching an alert's condition is active. A newly active series
is pending from that moment; it fires at the first evaluation at least `for` later (at once when
`for` is 0). A pending series whose condition stops holding is dropped without ever firing, so a
value flapping around the threshold never fires before it has held for `for`. A firing series
whose condition stops holding is resolved, and kept visible for RESOLVED_RETENTION (the latest
RESOLVED_PER_ALERT of each alert at most); with
`keep_firing_for` it first goes on firing until the condition has not held for that long
(Prometheus's keep_firing_for), and if it holds again meanwhile it simply fires on.

A config reload hands over new definitions through `reconfigured`, which carries the state over
(unchanged alerts go on untouched; see its docstring). A source with no collection yet (just
started, or restarted by that reload) tells nothing: its alerts keep their state until it answers.

Single-threaded and clock-free: the caller passes `now`, so tests drive time directly.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.state import AlertEvent, AlertInstance, AlertState, AlertsView
from monitor.alerts.template import format_value, render
from monitor.model import (
    Labels,
    MetricSpec,
    MetricType,
    Snapshot,
    SourceData,
    SourceState,
    Unit,
    label_set,
    unit_of,
)

log = logging.getLogger(__name__)

RESOLVED_RETENTION = 900.0
"""Seconds a resolved alert stays listed (Prometheus keeps them 15 minutes too)."""
RESOLVED_PER_ALERT = 100
"""How many resolved instances of one alert stay listed (the view, so the alerts screen and
/api/v1/alerts); beyond it the oldest resolution is dropped before its RESOLVED_RETENTION is up.
Firing and pending instances are never dropped: they are what is wrong now.

The listing of resolved instances is there to show what recovered lately, next to what is
still wrong: 100 is more than a terminal shows at once, and takes in a whole fleet's worth of
hosts (tens, a hundred) recovering together from one outage. Beyond that a reader learns
nothing more from the listing (the history has the last HISTORY_SIZE transitions, in order,
and a webhook is told of each), and what grows is the cost: an alert on a label that changes
all the time (a request id) makes every value a new series, so without a cap it listed one
resolution per value seen in 15 minutes (17,900 for a source with 5 new ids per 250 ms
scrape: a 5.7 MB /api/v1/alerts and an evaluator busy sorting them). Resolutions of alerts a
reload removed share one such allowance."""
HISTORY_SIZE = 500
VALUES_CHANGED = 1
STRUCTURE_CHANGED = 2
_VERSIONS = itertools.count(1)
"""Every view of every engine in the process takes its version from here. Readers redraw when
the version differs from the one they drew; a reload's engine continuing its own count from 0
would hand them numbers they had already seen, and they would keep showing the old alerts."""


def exposed_name(name: str, spec: MetricSpec | None) -> str:
    """The name a series has on /metrics: counters always end in _total there."""
    if spec is not None and spec.type is MetricType.COUNTER:
        return name.removesuffix("_total") + "_total"
    return name


def metric_unit(metric: str | None, specs: Mapping[str, MetricSpec]) -> Unit:
    """The unit of an alert's `metric` (named as on /metrics, a counter with its `_total`): its
    declaration's, else its name's suffix's, as the dashboard formats it. A dict lookup, not a
    scan: a declared counter is found under its name with or without `_total`."""
    if metric is None:
        return Unit.NONE
    spec = specs.get(metric)
    if spec is None:
        counter = specs.get(metric.removesuffix("_total"))
        spec = counter if counter is not None and counter.type is MetricType.COUNTER else None
    return spec.unit if spec is not None else unit_of(metric)


def _definition(rule: AlertSettings) -> str:
    """Equal for equal definitions, whatever the order of their label matchers in the file."""
    return json.dumps(rule.model_dump(mode="json"), sort_keys=True)


def _retired_key(instance: AlertInstance) -> Labels:
    return (("alertname", instance.alert), ("severity", str(instance.severity)), *instance.labels)


@dataclass(frozen=True, slots=True)
class Match:
    labels: Labels
    value: float


class AlertEngine:
    def __init__(
        self,
        rules: Sequence[AlertSettings],
        history_size: int = HISTORY_SIZE,
        resolved_per_alert: int = RESOLVED_PER_ALERT,
    ) -> None:
        self.rules = tuple(rules)
        self.resolved_per_alert = resolved_per_alert
        parts = range(len(self.rules) + 1)
        self._live: list[dict[Labels, AlertInstance]] = [{} for _ in parts]
        """Per alert, its pending and firing instances by labels. The last entry, for the alerts
        a reload removed (or gave a new severity), is always empty."""
        self._resolved: list[collections.OrderedDict[Labels, AlertInstance]] = [
            collections.OrderedDict() for _ in parts
        ]
        """Per alert, its resolved instances by labels, oldest resolution first, so expiring
        and capping look only at the front. The last holds those of alerts a reload removed,
        listed for RESOLVED_RETENTION like any other (keyed by _retired_key)."""
        self._retired = len(self.rules)
        self._retired_wake = math.inf
        self._crowded = [False] * len(self.rules)
        """Per alert, whether it has dropped a resolution to RESOLVED_PER_ALERT (and said so)."""
        self._cache: dict[int, tuple[int, list[Match]]] = {}
        self._seen: list[SourceData | None] = [None] * len(self.rules)
        """Per alert, its source as last evaluated (SourceData is replaced whenever it changes)."""
        self._wake: list[float] = [math.inf] * len(self.rules)
        """Per alert, when time alone next changes something: a `for` ends, a resolved alert
        expires, the source turns stale."""
        self._redefined = [False] * len(self.rules)
        """Per alert, whether a reload changed its definition since its last evaluation: its
        instances' summaries are then written again even if their values did not change."""
        self._announce: list[AlertEvent] = []
        """Transitions a reload made (already in the history), for the next evaluate() to return."""
        self._history: collections.deque[AlertEvent] = collections.deque(maxlen=history_size)
        self._keys: list[tuple[tuple, int]] = []
        """(sort key, alert index) of every instance in display order: the alert index breaks
        ties between two alerts of the same name and severity on the same series."""
        self._shown: list[AlertInstance] = []
        """The instances in that order, the view's `alerts` to be."""
        self._touched: dict[tuple[int, Labels], AlertInstance | None] = {}
        """(alert index, labels) of every instance added, replaced or removed since the last
        view, with the instance that view had (None: it had none). Publishing moves only
        these in the order, by bisection: a change costs the same with 20 instances listed as
        with 20,000, where sorting them all again took about 120 ms with 18,000."""
        self.view = AlertsView(rules=tuple((r.name, r.severity, r.source) for r in self.rules))

    def evaluate(self, snapshot: Snapshot, now: float) -> list[AlertEvent]:
        """Advance every alert to `now`; return the firing and resolved transitions (with, first,
        those of a reload since the last evaluation).

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
            if source is not None and source.state(now) is SourceState.PENDING:
                # No collection yet: after a restart by a reload its values and its health are
                # unknown, not gone. Resolving here would resolve every alert on the source and
                # fire it again a collection later, its `for` started over.
                continue
            changed = max(changed, self._evaluate_rule(index, rule, source, now, events))
            self._redefined[index] = False
        if now >= self._retired_wake:
            if self._forget_resolved(self._retired, now):
                changed = STRUCTURE_CHANGED
            self._retired_wake = self._oldest_expiry(self._retired)
        if events:
            self._history.extend(events)
        if changed or self._touched:
            # Readers compare versions to redraw: bump it only when something they show changed.
            self._publish(now, bool(events))
        announced, self._announce = self._announce, []
        return announced + events

    def _put(self, index: int, labels: Labels, instance: AlertInstance) -> None:
        """Add or replace an instance: a resolved one goes last among its alert's resolved."""
        live, resolved = self._live[index], self._resolved[index]
        before = live.get(labels)
        self._touched.setdefault((index, labels), before if before is not None else resolved.get(labels))
        if instance.state is AlertState.RESOLVED:
            live.pop(labels, None)
            resolved[labels] = instance
        else:
            resolved.pop(labels, None)
            live[labels] = instance

    def _drop(self, index: int, labels: Labels) -> None:
        before = self._live[index].pop(labels, None)
        if before is None:
            before = self._resolved[index].pop(labels, None)
        self._touched.setdefault((index, labels), before)

    def _forget_resolved(self, index: int, now: float) -> bool:
        """Drop an alert's resolved instances listed for RESOLVED_RETENTION, and its oldest
        beyond RESOLVED_PER_ALERT; return whether any went."""
        resolved = self._resolved[index]
        dropped = expired = 0
        while resolved:
            labels, oldest = next(iter(resolved.items()))
            if now - (oldest.resolved_at or now) >= RESOLVED_RETENTION:
                expired += 1
            elif len(resolved) > self.resolved_per_alert:
                dropped += 1
            else:
                break
            self._drop(index, labels)
        if dropped and index < self._retired and not self._crowded[index]:
            self._crowded[index] = True
            rule = self.rules[index]
            log.warning(
                "alert %s on source %r: more than %d of its series resolved within %g minutes, so "
                "only the latest %d resolutions are listed. A label that changes with every value "
                "(a request id, a timestamp) makes each value a new series that fires and "
                "resolves: select the series to alert on with the alert's `labels`",
                rule.name,
                rule.source,
                self.resolved_per_alert,
                RESOLVED_RETENTION / 60,
                self.resolved_per_alert,
            )
        return bool(dropped or expired)

    def _oldest_expiry(self, index: int) -> float:
        """When the oldest resolved instance of an alert expires (the first to, unless the
        clock was set back between two resolutions: the later then waits for the earlier)."""
        resolved = self._resolved[index]
        if not resolved:
            return math.inf
        oldest = next(iter(resolved.values()))
        return (oldest.resolved_at or math.inf) + RESOLVED_RETENTION

    def _resort(self) -> None:
        """Put every instance in display order from scratch (after a reload)."""
        entries = sorted(
            (
                ((instance.sort_key(), index), instance)
                for index in range(len(self._live))
                for instance in itertools.chain(self._live[index].values(), self._resolved[index].values())
            ),
            key=lambda entry: entry[0],
        )
        self._keys = [key for key, _ in entries]
        self._shown = [instance for _, instance in entries]
        self._touched.clear()

    def _publish(self, now: float, history: bool) -> None:
        """A new view: the instances touched since the last one moved in (or out of) the
        display order, the others left where they are."""
        keys, shown = self._keys, self._shown
        for (index, labels), before in self._touched.items():
            after = self._live[index].get(labels)
            if after is None:
                after = self._resolved[index].get(labels)
            key = None if after is None else (after.sort_key(), index)
            if before is not None:
                at = bisect.bisect_left(keys, (before.sort_key(), index))
                assert shown[at] is before, "the display order lost track of an instance"
                if key == keys[at]:
                    shown[at] = after
                    continue
                del keys[at], shown[at]
            if key is not None:
                at = bisect.bisect_left(keys, key)
                keys.insert(at, key)
                shown.insert(at, after)
        self._touched.clear()
        history_now = tuple(self._history) if history else self.view.history
        self.view = AlertsView(next(_VERSIONS), now, self.view.rules, tuple(shown), history_now)

    def reconfigured(self, rules: Sequence[AlertSettings], now: float) -> AlertEngine:
        """The engine for a reloaded config's alerts, with this one's state and history.

        A receiver knows an alert by its labels, so a reload must neither notify a firing alert
        again nor leave one firing for ever:

        - an alert whose definition is unchanged keeps its instances as they are: same state,
          times, value and summary, and no event;
        - a changed alert (the same name and source, something else differs) keeps its
          instances and is re-evaluated at the next evaluation: an instance that still holds
          keeps its active_since (a firing one stays firing, not notified again; a pending one
          fires once active_since plus the new `for` has passed), one that no longer holds
          resolves (or, pending, goes); summaries are written anew. A new severity is a new
          label set for the receiver: the old instance resolves and one pending under the new
          severity takes over its active_since;
        - a firing instance of an alert the reload removed resolves, at `now`.

        These resolutions go into the history and the view at once, and the next evaluate()
        returns them, so the evaluator logs and notifies them like any other resolution.
        """
        engine = AlertEngine(rules, self._history.maxlen or HISTORY_SIZE, self.resolved_per_alert)
        engine._history.extend(self._history)
        same: dict[str, list[int]] = collections.defaultdict(list)
        for old, rule in enumerate(self.rules):
            same[_definition(rule)].append(old)
        taken: set[int] = set()
        changed: list[int] = []
        for index, rule in enumerate(engine.rules):
            candidates = same.get(_definition(rule))
            if not candidates:
                changed.append(index)
                continue
            old = candidates.pop(0)
            taken.add(old)
            engine._live[index] = dict(self._live[old])
            engine._resolved[index] = collections.OrderedDict(self._resolved[old])
            engine._seen[index], engine._wake[index] = self._seen[old], self._wake[old]
            engine._redefined[index] = self._redefined[old]
            engine._crowded[index] = self._crowded[old]
            if old in self._cache:
                engine._cache[index] = self._cache[old]
        named: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
        for old, rule in enumerate(self.rules):
            if old not in taken:
                named[(rule.name, rule.source)].append(old)
        leftover = list(self._resolved[self._retired].values())
        for index in changed:
            rule = engine.rules[index]
            engine._wake[index] = -math.inf  # evaluate it at the next look, whatever the source does
            engine._redefined[index] = True
            candidates = named.get((rule.name, rule.source))
            if not candidates:
                continue
            old = candidates.pop(0)
            taken.add(old)
            for labels, instance in itertools.chain(self._live[old].items(), self._resolved[old].items()):
                if instance.severity is rule.severity:
                    kept = engine._resolved if instance.state is AlertState.RESOLVED else engine._live
                    kept[index][labels] = instance
                    continue
                leftover.append(instance)
                if instance.state is not AlertState.RESOLVED:
                    engine._live[index][labels] = replace(
                        instance,
                        severity=rule.severity,
                        state=AlertState.PENDING,
                        fired_at=None,
                        keep_firing_since=None,
                    )
        for old in range(len(self.rules)):
            if old not in taken:
                leftover.extend(itertools.chain(self._live[old].values(), self._resolved[old].values()))
        events = []
        retiring = []
        for instance in leftover:
            if instance.state is AlertState.FIRING:
                instance = replace(instance, state=AlertState.RESOLVED, resolved_at=now)
                events.append(AlertEvent(now, instance))
            if instance.state is AlertState.RESOLVED:
                retiring.append(instance)
        retired = engine._resolved[engine._retired]
        for instance in sorted(retiring, key=lambda i: i.resolved_at or now):  # oldest first
            key = _retired_key(instance)
            retired.pop(key, None)
            retired[key] = instance
        engine._forget_resolved(engine._retired, now)
        engine._retired_wake = engine._oldest_expiry(engine._retired)
        engine._history.extend(events)
        engine._announce = [*self._announce, *events]
        engine._resort()
        engine._publish(now, history=True)
        return engine

    def _evaluate_rule(
        self, index: int, rule: AlertSettings, source: SourceData | None, now: float, events: list[AlertEvent]
    ) -> int:
        """Update one alert's instances; return what changed: nothing (0), only values
        (VALUES_CHANGED) or which instances exist or their states (STRUCTURE_CHANGED)."""
        live, resolved = self._live[index], self._resolved[index]
        active = {m.labels: m.value for m in self._matches(index, rule, source, now)}
        unit = metric_unit(rule.metric, source.specs) if active and source else Unit.NONE  # summaries only
        changed = 0
        for labels, value in active.items():
            current = live.get(labels)
            if current is None:
                current = resolved.get(labels)
            updated = self._hold(rule, current, labels, value, now, unit, self._redefined[index])
            if updated is not current:
                self._put(index, labels, updated)
                same = current is not None and current.state is updated.state
                changed = max(changed, VALUES_CHANGED if same else STRUCTURE_CHANGED)
                if updated.state is AlertState.FIRING and (
                    current is None or current.state is not AlertState.FIRING
                ):
                    events.append(AlertEvent(now, updated))
        # Only pending and firing instances: the resolved ones wait at the front of `resolved`.
        for labels in [labels for labels in live if labels not in active]:
            current = live[labels]
            if current.state is AlertState.FIRING and _kept_firing(rule, current, now):
                if current.keep_firing_since is None:
                    self._put(index, labels, replace(current, keep_firing_since=now))
                    changed = max(changed, VALUES_CHANGED)
                continue
            if current.state is AlertState.FIRING:
                gone = replace(current, state=AlertState.RESOLVED, resolved_at=now, keep_firing_since=None)
                self._put(index, labels, gone)
                events.append(AlertEvent(now, gone))
            else:
                self._drop(index, labels)  # pending: never fired, nothing to resolve
            changed = STRUCTURE_CHANGED
        if self._forget_resolved(index, now):
            changed = STRUCTURE_CHANGED
        self._wake[index] = min(_wake_time(rule, live.values(), source, now), self._oldest_expiry(index))
        return changed

    def _matches(self, index: int, rule: AlertSettings, source: SourceData | None, now: float) -> list[Match]:
        if source is None:
            return []
        state = source.state(now)
        if rule.condition is not None:
            # Stale whether the source is up or down: a source failing for longer than its
            # stale_after is both, as monitor_source_up and monitor_source_stale say.
            down = rule.condition == "down"
            if not (state is SourceState.DOWN if down else source.stale(now)):
                return []
            # The labels and value of the monitor_source_up (0) or monitor_source_stale (1) series
            # its Prometheus rule matches.
            return [Match(tuple(sorted(label_set(source).items())), 0.0 if down else 1.0)]
        if state is not SourceState.UP:
            return []  # /metrics shows no values then, so Prometheus would see none either
        cached = self._cache.get(index)
        if cached is not None and cached[0] == source.version:
            return cached[1]
        assert rule.op is not None and rule.threshold is not None
        # `source` is on every series of /metrics, so a rule may match it, as its Prometheus
        # twin (`monitor rules`) does.
        matchers = rule.matchers
        found = []
        for (name, labels_of_series), value in source.series.items():
            if name != rule.metric and exposed_name(name, source.specs.get(name)) != rule.metric:
                continue
            labels = label_set(source, labels_of_series)
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
        redefined: bool = False,
    ) -> AlertInstance:
        """The instance after its condition held at `now` (the same object when nothing changed;
        rewritten when a reload `redefined` the alert, whose summary may read differently)."""
        if current is None or current.state is AlertState.RESOLVED:
            return replace(
                AlertInstance(
                    rule.name, rule.severity, rule.source, labels, AlertState.PENDING, None, "", now
                ),
                **self._valued(rule, labels, value, unit, now, fires=rule.for_ <= 0),
            )
        fires = current.state is AlertState.PENDING and now - (current.active_since or now) >= rule.for_
        kept = current.keep_firing_since is not None  # held again within keep_firing_for: fires on
        if not fires and not kept and current.value == value and not redefined:
            return current
        return replace(current, keep_firing_since=None, **self._valued(rule, labels, value, unit, now, fires))

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


def _kept_firing(rule: AlertSettings, instance: AlertInstance, now: float) -> bool:
    """Whether a firing instance whose condition does not hold at `now` goes on firing. As
    Prometheus counts it: until `keep_firing_for` has passed since the first evaluation that
    found it not holding, so it resolves at the first one at least that long after. A pending
    instance is never kept: it has not fired."""
    since = instance.keep_firing_since if instance.keep_firing_since is not None else now
    return now - since < rule.keep_firing_for


def _wake_time(
    rule: AlertSettings, live: Iterable[AlertInstance], source: SourceData | None, now: float
) -> float:
    """The earliest time at which the passing of time alone could change this alert's pending
    and firing instances (`live`) or its source (resolved ones: AlertEngine._oldest_expiry)."""
    times = [(i.active_since or now) + rule.for_ for i in live if i.state is AlertState.PENDING]
    times.extend(i.keep_firing_since + rule.keep_firing_for for i in live if i.keep_firing_since is not None)
    if source is not None and source.health.stale_at() >= now:
        times.append(source.health.stale_at())  # when it turns stale, up or down
    return min(times, default=math.inf)
