"""A reload that restarts a source (its `timeout` changed, say) re-registers it with no
collection yet. Until its first collection answers nothing is known about it: its alerts keep
their state and their `for` timers, rather than resolving and firing again a second later."""

from __future__ import annotations

from alerts_support import Fleet, alert, told

from monitor.alerts.engine import AlertEngine


def since(engine: AlertEngine) -> dict[str, tuple]:
    return {a.alert: (str(a.state), a.active_since, a.fired_at) for a in engine.view.alerts}


def restart(fleet: Fleet) -> None:
    """What Scheduler.apply does for a changed source: a new poller registers it afresh."""
    fleet.store.add_source("local", "test", 1.0)


RULES = [alert(name="Busy", threshold=1), alert(name="Slow", threshold=1, **{"for": "20s"})]


def test_a_restarted_source_keeps_its_alerts_through_its_first_collection(fleet, clock) -> None:
    engine = AlertEngine(RULES)
    assert told(engine.evaluate(fleet.publish(5.0), clock())) == [("Busy", "firing")]
    engine.evaluate(fleet.publish(5.0), clock.advance(10))
    before = since(engine)
    restart(fleet)
    for _ in range(10):  # the evaluator's ticks while the new poller's first collection runs
        assert engine.evaluate(fleet.store.snapshot(), clock.advance(0.2)) == []
        assert since(engine) == before
    assert engine.evaluate(fleet.publish(5.0), clock.advance(0.1)) == []
    assert since(engine) == before  # Busy not fired again; Slow still pending since T0
    assert told(engine.evaluate(fleet.publish(5.0), clock.advance(8))) == [("Slow", "firing")]
    assert [str(e.state) for e in engine.view.history] == ["firing", "firing"]


def test_a_restart_neither_resolves_a_down_alert_nor_restarts_its_for(fleet, clock) -> None:
    engine = AlertEngine([alert(condition="down", **{"for": "10s"})])
    engine.evaluate(fleet.fail(), clock())
    restart(fleet)  # the user fixes the source's URL: it is restarted
    assert engine.evaluate(fleet.store.snapshot(), clock.advance(1)) == []
    assert told(engine.evaluate(fleet.fail(), clock.advance(9))) == [("Gone", "firing")]  # 10 s after T0
    restart(fleet)
    assert engine.evaluate(fleet.store.snapshot(), clock.advance(1)) == []
    assert since(engine)["Gone"][0] == "firing"
    assert told(engine.evaluate(fleet.publish(0.1), clock.advance(1))) == [("Gone", "resolved")]


def test_a_failed_collection_resolves_metric_alerts_as_prometheus_does(fleet, clock) -> None:
    """The documented choice (docs/ALERTS.md): no grace period. A down source's values are not
    on /metrics, so the generated rule resolves there too; a `down` alert says why."""
    engine = AlertEngine(RULES)
    engine.evaluate(fleet.publish(5.0), clock())
    restart(fleet)
    engine.evaluate(fleet.store.snapshot(), clock.advance(0.5))
    assert told(engine.evaluate(fleet.fail(), clock.advance(0.5))) == [("Busy", "resolved")]
