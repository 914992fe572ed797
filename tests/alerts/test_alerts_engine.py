"""The alert state machine against real store snapshots, with time moved by the test."""

from __future__ import annotations

from alerts_support import Fleet, alert

from monitor.alerts.engine import RESOLVED_RETENTION, AlertEngine
from monitor.alerts.state import AlertState
from monitor.model import MetricSpec, MetricType


def states(engine: AlertEngine) -> list[tuple[str, str]]:
    return [(a.alert, str(a.state)) for a in engine.view.alerts]


def test_an_alert_is_pending_until_the_condition_held_for_its_duration(fleet, clock) -> None:
    engine = AlertEngine([alert(**{"for": "30s"})])
    snapshot = fleet.publish(0.95)
    assert engine.evaluate(snapshot, clock()) == []
    assert states(engine) == [("High", "pending")]
    assert engine.view.alerts[0].active_since == clock()
    assert engine.evaluate(fleet.publish(0.97), clock.advance(29.9)) == []
    assert states(engine) == [("High", "pending")]
    events = engine.evaluate(fleet.publish(0.99), clock.advance(0.1))
    assert [(e.instance.alert, str(e.state), e.instance.value) for e in events] == [("High", "firing", 0.99)]
    firing = engine.view.alerts[0]
    assert (firing.active_since, firing.fired_at) == (clock() - 30, clock())


def test_without_for_an_alert_fires_at_the_first_evaluation(fleet, clock) -> None:
    engine = AlertEngine([alert()])
    events = engine.evaluate(fleet.publish(2.0), clock())
    assert [str(e.state) for e in events] == ["firing"]


def test_time_alone_moves_a_pending_alert_to_firing(fleet, clock) -> None:
    engine = AlertEngine([alert(**{"for": "10s"})])
    snapshot = fleet.publish(0.95, stale_after=60)
    engine.evaluate(snapshot, clock())
    events = engine.evaluate(snapshot, clock.advance(10))
    assert [str(e.state) for e in events] == ["firing"]


def test_flapping_around_the_threshold_never_fires_before_for_has_held(fleet, clock) -> None:
    engine = AlertEngine([alert(**{"for": "5s"})])
    for step in range(40):  # above for 4 s, below for 1 s, over and over: never 5 s in a row
        value = 0.5 if step % 5 == 4 else 0.95
        assert engine.evaluate(fleet.publish(value), clock.advance(1.0)) == []
        assert states(engine) in ([("High", "pending")], [])
    assert engine.view.history == ()
    fired_after = [bool(engine.evaluate(fleet.publish(0.95), clock.advance(1.0))) for _ in range(6)]
    assert fired_after == [False] * 5 + [True]  # pending at the first, 5 s later it fires


def test_a_firing_alert_resolves_and_history_records_both(fleet, clock) -> None:
    engine = AlertEngine([alert(summary="load {{ value }} on {{ source }}")])
    engine.evaluate(fleet.publish(1.5), clock())
    events = engine.evaluate(fleet.publish(0.2), clock.advance(7))
    assert [(str(e.state), e.instance.resolved_at) for e in events] == [("resolved", clock())]
    assert states(engine) == [("High", "resolved")]
    history = [(str(e.state), e.instance.value, e.instance.summary) for e in engine.view.history]
    assert history == [("firing", 1.5, "load 1.5 on local"), ("resolved", 1.5, "load 1.5 on local")]
    engine.evaluate(fleet.publish(0.2), clock.advance(RESOLVED_RETENTION))
    assert states(engine) == []


def test_a_resolved_alert_that_holds_again_is_pending_again(fleet, clock) -> None:
    engine = AlertEngine([alert(**{"for": "3s"})])
    engine.evaluate(fleet.publish(1.5), clock())
    engine.evaluate(fleet.publish(1.5), clock.advance(3))
    engine.evaluate(fleet.publish(0.1), clock.advance(1))
    engine.evaluate(fleet.publish(1.5), clock.advance(1))
    assert states(engine) == [("High", "pending")]


def test_label_matchers_select_series_and_each_series_alerts_on_its_own(clock) -> None:
    fleet = Fleet(clock)
    fleet.add(labels=(("site", "zurich"),))
    values = {("load", (("cpu", str(n)),)): v for n, v in enumerate([0.95, 0.2, 0.99, 0.97])}
    values[("load", (("cpu", "total"),))] = 0.95
    snapshot = fleet.publish(values)
    rules = [
        alert(name="Total", labels={"cpu": "total"}),
        alert(name="NotTotal", labels={"cpu": "!=total"}),
        alert(name="Low", labels={"cpu": "=~[0-2]"}),
        alert(name="NotLow", labels={"cpu": "!~[0-2]|total"}),
        alert(name="Site", labels={"site": "zurich", "cpu": "3"}),
        alert(name="Elsewhere", labels={"site": "geneva"}),
    ]
    engine = AlertEngine(rules)
    engine.evaluate(snapshot, clock())
    fired = sorted((a.alert, dict(a.labels)["cpu"]) for a in engine.view.alerts)
    assert fired == [
        ("Low", "0"),
        ("Low", "2"),
        ("NotLow", "3"),
        ("NotTotal", "0"),
        ("NotTotal", "2"),
        ("NotTotal", "3"),
        ("Site", "3"),
        ("Total", "total"),
    ]
    assert all(dict(a.labels)["site"] == "zurich" for a in engine.view.alerts)


def test_a_source_matcher_matches_as_it_does_in_prometheus(fleet, clock) -> None:
    """Every series on /metrics carries `source`, so `monitor rules` turns `source: local`
    into a working matcher; in monitor itself it matched nothing and the alert never fired."""
    snapshot = fleet.publish({("load", ()): 0.95})
    rules = [
        alert(name="Named", labels={"source": "local"}),
        alert(name="Pattern", labels={"source": "=~loc.*"}),
        alert(name="Other", labels={"source": "!=local"}),
    ]
    engine = AlertEngine(rules)
    engine.evaluate(snapshot, clock())
    assert sorted(states(engine)) == [("Named", "firing"), ("Pattern", "firing")]


def test_operators_compare_as_written(fleet, clock) -> None:
    snapshot = fleet.publish(5.0)
    cases = {">": 4, ">=": 5, "<": 6, "<=": 5, "==": 5, "!=": 4}
    engine = AlertEngine(
        [alert(name=f"op{i}", op=op, threshold=t) for i, (op, t) in enumerate(cases.items())]
    )
    engine.evaluate(snapshot, clock())
    assert len(engine.view.in_state(AlertState.FIRING)) == 6
    engine = AlertEngine(
        [alert(name=f"op{i}", op=op, threshold=t + 10) for i, (op, t) in enumerate(cases.items())]
    )
    engine.evaluate(snapshot, clock())
    assert {a.alert for a in engine.view.alerts} == {"op2", "op3", "op5"}


def test_a_counter_is_matched_by_its_metrics_name(clock) -> None:
    fleet = Fleet(clock)
    fleet.add(specs={"requests": MetricSpec("requests", "served", type=MetricType.COUNTER)})
    engine = AlertEngine([alert(metric="requests_total", threshold=10)])
    engine.evaluate(fleet.publish({("requests", ()): 11.0}), clock())
    assert states(engine) == [("High", "firing")]


def test_down_source_alert_and_no_value_alerts_while_down(fleet, clock) -> None:
    engine = AlertEngine([alert(condition="down", **{"for": "10s"}), alert()])
    engine.evaluate(fleet.publish(2.0), clock())
    assert states(engine) == [("High", "firing")]
    engine.evaluate(fleet.fail(), clock.advance(1))
    assert states(engine) == [("Gone", "pending"), ("High", "resolved")]
    events = engine.evaluate(fleet.fail(), clock.advance(10))
    assert [(e.instance.alert, str(e.state)) for e in events] == [("Gone", "firing")]
    events = engine.evaluate(fleet.publish(0.1), clock.advance(1))
    assert [(e.instance.alert, str(e.state)) for e in events] == [("Gone", "resolved")]


def test_stale_source_alert_fires_when_successes_stop(fleet, clock) -> None:
    engine = AlertEngine([alert(condition="stale", summary="{{ source }} went quiet")])
    snapshot = fleet.publish(0.1, stale_after=5)
    assert engine.evaluate(snapshot, clock.advance(5)) == []
    events = engine.evaluate(snapshot, clock.advance(0.5))
    assert [(str(e.state), e.instance.summary) for e in events] == [("firing", "local went quiet")]


def test_an_alert_on_a_source_not_in_the_snapshot_stays_inactive(fleet, clock) -> None:
    engine = AlertEngine([alert(source="elsewhere"), alert(source="elsewhere", condition="down")])
    engine.evaluate(fleet.publish(9.0), clock())
    assert engine.view.alerts == ()
    assert [rule[0] for rule in engine.view.rules] == ["High", "Gone"]


def test_the_view_lists_firing_first_most_severe_first_then_pending(fleet, clock) -> None:
    engine = AlertEngine(
        [
            alert(name="Info", severity="info"),
            alert(name="Slow", severity="critical", **{"for": "1m"}),
            alert(name="Warn", severity="warning"),
            alert(name="Crit", severity="critical"),
        ]
    )
    engine.evaluate(fleet.publish(1.0), clock())
    assert states(engine) == [
        ("Crit", "firing"),
        ("Warn", "firing"),
        ("Info", "firing"),
        ("Slow", "pending"),
    ]
