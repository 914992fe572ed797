"""A config reload as the on-call engineer sees it: unchanged alerts go on untouched (no second
notification, same since-time, same history), changed ones keep their start while they hold,
and alerts that are removed or no longer hold are resolved, so no receiver keeps them open."""

from __future__ import annotations

from alerts_support import Clock, Fleet, alert, told

from monitor.alerts.engine import RESOLVED_RETENTION
from monitor.alerts.evaluator import AlertEvaluator
from monitor.alerts.state import AlertEvent, AlertsView


def shown(view: AlertsView) -> dict[str, tuple]:
    return {a.alert: (str(a.state), a.active_since, a.fired_at, a.resolved_at) for a in view.alerts}


RULES = [
    alert(name="Busy", threshold=1),
    alert(name="Slow", threshold=1, **{"for": "30s"}),
    alert(name="Moved", threshold=10, summary="over {{ threshold }}"),
    alert(name="Gone", threshold=1),
]


class Engine:
    """The evaluator as the Runtime drives it: `reload` is what Alerting.configure calls."""

    def __init__(self, fleet: Fleet, clock: Clock) -> None:
        self.fleet, self.clock = fleet, clock
        self.evaluator = AlertEvaluator(RULES, fleet.store, clock=clock)

    @property
    def view(self) -> AlertsView:
        return self.evaluator.current()

    def evaluate(self, value: float, after: float) -> list[AlertEvent]:
        self.clock.advance(after)
        self.fleet.publish(value)
        return self.evaluator.evaluate_once()

    def reload(self, rules: list, after: float = 0.0) -> None:
        self.clock.advance(after)
        self.evaluator.replace_rules(rules)


def firing_engine(fleet: Fleet, clock: Clock) -> Engine:
    """Busy, Moved and Gone firing since T0, Slow pending since T0, now T0+10 (load 15)."""
    engine = Engine(fleet, clock)
    assert told(engine.evaluate(15.0, 0)) == [("Busy", "firing"), ("Moved", "firing"), ("Gone", "firing")]
    engine.evaluate(15.0, 10)
    return engine


def test_changing_one_threshold_notifies_nothing_for_the_others_and_keeps_their_times(fleet, clock) -> None:
    engine = firing_engine(fleet, clock)
    before = shown(engine.view)
    history = engine.view.history
    rules = [*RULES[:2], alert(name="Moved", threshold=12, summary="over {{ threshold }}"), RULES[3]]
    engine.reload(rules, after=1)
    assert engine.evaluate(15.0, 1) == []
    assert shown(engine.view) == before  # same states, active_since and fired_at: no new firing
    assert engine.view.history == history
    moved = next(a for a in engine.view.alerts if a.alert == "Moved")
    assert moved.summary == "over 12"  # the changed alert is re-evaluated under its new definition
    # Slow keeps its start: it fires 30 s after T0, not 30 s after the reload.
    assert told(engine.evaluate(15.0, 18)) == [("Slow", "firing")]
    assert shown(engine.view)["Slow"][1:3] == (before["Slow"][1], clock())


def test_an_alert_removed_or_no_longer_holding_is_resolved_and_told(fleet, clock) -> None:
    engine = firing_engine(fleet, clock)
    fired_at = shown(engine.view)["Moved"][2]
    rules = [*RULES[:2], alert(name="Moved", threshold=20, summary="over {{ threshold }}")]  # Gone removed
    engine.reload(rules, after=1)
    reloaded = clock()
    events = engine.evaluate(15.0, 0.2)
    assert sorted(told(events)) == [("Gone", "resolved"), ("Moved", "resolved")]
    assert {e.instance.alert: (e.instance.fired_at, e.instance.resolved_at) for e in events} == {
        "Gone": (fired_at, reloaded),  # removed: resolved by the reload itself
        "Moved": (fired_at, clock()),  # no longer holds at its first evaluation
    }
    assert {name: state for name, (state, *_) in shown(engine.view).items()} == {
        "Busy": "firing",
        "Slow": "pending",
        "Moved": "resolved",
        "Gone": "resolved",
    }
    assert told(list(engine.view.history[-2:])) == [("Gone", "resolved"), ("Moved", "resolved")]
    assert engine.evaluate(15.0, 1) == []  # told once
    engine.evaluate(15.0, RESOLVED_RETENTION)
    assert set(shown(engine.view)) == {"Busy", "Slow"}  # resolved ones listed 15 minutes, as always


def test_a_pending_alert_under_a_shorter_for_fires_counting_from_its_start(fleet, clock) -> None:
    engine = firing_engine(fleet, clock)  # Slow pending since T0, now T0+10
    rules = [RULES[0], alert(name="Slow", threshold=1, **{"for": "5s"}), *RULES[2:]]
    engine.reload(rules)
    assert told(engine.evaluate(15.0, 0.1)) == [("Slow", "firing")]


def test_a_new_severity_resolves_the_old_label_set_and_fires_the_new_one(fleet, clock) -> None:
    """The receiver routes on severity: the warning it was told about must be closed."""
    engine = firing_engine(fleet, clock)
    rules = [alert(name="Busy", threshold=1, severity="critical"), *RULES[1:]]
    engine.reload(rules, after=1)
    events = engine.evaluate(15.0, 0.1)
    assert [(e.instance.alert, str(e.instance.severity), str(e.state)) for e in events] == [
        ("Busy", "warning", "resolved"),
        ("Busy", "critical", "firing"),
    ]
    assert events[1].instance.active_since == shown(engine.view)["Slow"][1]  # still T0


def test_history_survives_reloads_that_remove_every_alert(fleet, clock) -> None:
    engine = firing_engine(fleet, clock)
    engine.reload([], after=1)
    assert sorted(told(engine.evaluate(15.0, 0))) == [
        ("Busy", "resolved"),
        ("Gone", "resolved"),
        ("Moved", "resolved"),
    ]
    assert [str(e.state) for e in engine.view.history] == ["firing"] * 3 + ["resolved"] * 3
    assert engine.view.rules == ()


def test_a_reader_comparing_versions_sees_every_reload(fleet, clock) -> None:
    """The dashboard keeps what it drew while the version is the one it drew: after a reload
    the versions must go on rising, never start again from where the reader has already been."""
    evaluator = AlertEvaluator(RULES, fleet.store, clock=clock)
    drawn: AlertsView | None = None
    for reload in range(8):
        for _ in range(3):
            fleet.publish(float(15 + reload))
            clock.advance(1)
            evaluator.evaluate_once()
            view = evaluator.current()
            if drawn is None or view.version != drawn.version:
                assert drawn is None or view.version > drawn.version
                drawn = view
        summary = f"over {{{{ threshold }}}} #{reload}"
        evaluator.replace_rules([*RULES[:2], alert(name="Moved", threshold=10, summary=summary), RULES[3]])
        evaluator.evaluate_once()
        view = evaluator.current()
        assert view.version > drawn.version
        drawn = view
        assert next(a.summary for a in drawn.alerts if a.alert == "Moved") == f"over 10 #{reload}"


def test_the_evaluator_hands_a_reloads_resolutions_to_its_listeners(fleet, clock) -> None:
    told_listener: list[tuple[str, str]] = []
    evaluator = AlertEvaluator(
        RULES, fleet.store, clock=clock, listeners=[lambda events: told_listener.extend(told(events))]
    )
    fleet.publish(15.0)
    evaluator.evaluate_once()
    told_listener.clear()
    evaluator.replace_rules(RULES[:3])
    clock.advance(0.2)
    evaluator.evaluate_once()
    assert told_listener == [("Gone", "resolved")]
    evaluator.evaluate_once()
    assert told_listener == [("Gone", "resolved")]
