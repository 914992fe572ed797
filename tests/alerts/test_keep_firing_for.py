"""`keep_firing_for`, Prometheus's option: a firing alert whose condition stops holding goes on
firing until it has not held for that long, so a flapping value makes one firing episode and
one notification, not a resolved/firing pair per dip. A pending alert is not kept: it never
fired."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
from alerts_support import alert, told
from webhook_support import Receiver, config, serve, until

from monitor.alerts.engine import AlertEngine
from monitor.alerts.state import AlertState
from monitor.config import load_config
from monitor.yamlsource import load_yaml


def shown(engine: AlertEngine) -> list[tuple[str, str]]:
    return [(a.alert, str(a.state)) for a in engine.view.alerts]


def test_a_firing_alert_keeps_firing_after_its_condition_clears_then_resolves(fleet, clock) -> None:
    engine = AlertEngine([alert(keep_firing_for="10s", summary="load {{ value }}")])
    assert told(engine.evaluate(fleet.publish(1.5), clock())) == [("High", "firing")]
    fired_at = clock()
    assert engine.evaluate(fleet.publish(0.2), clock.advance(1)) == []
    cleared = clock()
    kept = engine.view.alerts[0]
    # Still firing, with the last value it had while the condition held, as Prometheus shows it.
    assert (kept.state, kept.fired_at, kept.keep_firing_since) == (AlertState.FIRING, fired_at, cleared)
    assert (kept.value, kept.summary, kept.resolved_at) == (1.5, "load 1.5", None)
    assert engine.evaluate(fleet.publish(0.3), clock.advance(9.9)) == []
    assert shown(engine) == [("High", "firing")]
    events = engine.evaluate(fleet.publish(0.3), clock.advance(0.1))
    assert [(str(e.state), e.instance.resolved_at) for e in events] == [("resolved", cleared + 10)]
    assert shown(engine) == [("High", "resolved")]
    assert engine.view.alerts[0].keep_firing_since is None
    assert [str(e.state) for e in engine.view.history] == ["firing", "resolved"]


def test_time_alone_resolves_a_kept_alert(fleet, clock) -> None:
    """No new snapshot comes while a source's value stays put: the evaluator must still wake
    when keep_firing_for runs out, as it does when a `for` runs out."""
    engine = AlertEngine([alert(keep_firing_for="5s")])
    engine.evaluate(fleet.publish(1.5, stale_after=600), clock())
    quiet = fleet.publish(0.2, stale_after=600)
    engine.evaluate(quiet, clock.advance(1))
    assert engine.evaluate(quiet, clock.advance(4.9)) == []
    assert told(engine.evaluate(quiet, clock.advance(0.1))) == [("High", "resolved")]


def test_a_condition_back_within_keep_firing_for_fires_on_as_one_episode(fleet, clock) -> None:
    engine = AlertEngine([alert(keep_firing_for="5s")])
    events = engine.evaluate(fleet.publish(1.5), clock())
    fired_at = clock()
    for step in range(20):  # under the threshold for 4 s, over it for 1 s, over and over
        value = 1.5 if step % 5 == 4 else 0.2
        events += engine.evaluate(fleet.publish(value + step / 100), clock.advance(1))
    assert told(events) == [("High", "firing")]
    firing = engine.view.alerts[0]
    assert (firing.state, firing.fired_at, firing.keep_firing_since) == (AlertState.FIRING, fired_at, None)
    assert firing.value == 1.5 + 19 / 100  # its value when it last held
    assert [str(e.state) for e in engine.view.history] == ["firing"]
    # The window counts from the last time it held, not from the first dip.
    assert engine.evaluate(fleet.publish(0.2), clock.advance(1)) == []
    assert engine.evaluate(fleet.publish(0.2), clock.advance(4.9)) == []
    events = engine.evaluate(fleet.publish(0.2), clock.advance(0.1))
    assert [(str(e.state), e.instance.fired_at) for e in events] == [("resolved", fired_at)]


def test_a_pending_alert_that_clears_is_dropped_whatever_its_keep_firing_for(fleet, clock) -> None:
    engine = AlertEngine([alert(**{"for": "10s", "keep_firing_for": "1m"})])
    engine.evaluate(fleet.publish(1.5), clock())
    assert shown(engine) == [("High", "pending")]
    assert engine.evaluate(fleet.publish(0.2), clock.advance(5)) == []
    assert engine.view.alerts == ()
    engine.evaluate(fleet.publish(1.5), clock.advance(1))
    assert [(str(a.state), a.active_since) for a in engine.view.alerts] == [("pending", clock())]
    assert engine.evaluate(fleet.publish(1.5), clock.advance(9.9)) == []


def test_a_source_failing_briefly_keeps_its_metric_alert_firing(fleet, clock) -> None:
    """Its values vanish from /metrics, as the series vanish for the rule in Prometheus: with
    keep_firing_for both keep the alert firing over a failed collection."""
    engine = AlertEngine([alert(keep_firing_for="30s")])
    engine.evaluate(fleet.publish(1.5), clock())
    assert engine.evaluate(fleet.fail(), clock.advance(1)) == []
    assert shown(engine) == [("High", "firing")]
    assert engine.evaluate(fleet.publish(1.5), clock.advance(1)) == []
    assert engine.view.alerts[0].keep_firing_since is None


def test_a_reload_that_removes_keep_firing_for_resolves_a_kept_alert(fleet, clock) -> None:
    engine = AlertEngine([alert(keep_firing_for="1m")])
    engine.evaluate(fleet.publish(1.5), clock())
    snapshot = fleet.publish(0.2)
    engine.evaluate(snapshot, clock.advance(1))
    unchanged = engine.reconfigured([alert(keep_firing_for="1m")], clock.advance(1))
    assert unchanged.evaluate(snapshot, clock()) == []
    assert unchanged.view.alerts[0].keep_firing_since == clock() - 1
    changed = unchanged.reconfigured([alert()], clock.advance(1))
    assert told(changed.evaluate(snapshot, clock())) == [("High", "resolved")]


async def test_a_flapping_alert_is_notified_once_and_resolved_once(aiohttp_server, scene) -> None:
    receiver = Receiver()
    hook = await serve(aiohttp_server, receiver)
    alerts = scene(config(hook, [{**HIGH, "keep_firing_for": "3s"}]))
    assert alerts.publish(3.0) == ["High firing"]
    await until(lambda: alerts.notifier.delivered == 1)  # else the resolution would supersede it
    for load in (0.1, 0.1, 3.0, 0.1, 3.0, 0.1, 0.1, 0.1):  # one second apart
        assert alerts.publish(load) == []
    assert alerts.publish(0.1) == ["High resolved"]  # 3 s after the last time it held
    await until(lambda: alerts.notifier.delivered == 2)
    firing, resolved = receiver.accepted()
    assert [a["status"] for a in firing["alerts"] + resolved["alerts"]] == ["firing", "resolved"]
    assert firing["alerts"][0]["startsAt"] == resolved["alerts"][0]["startsAt"]
    assert len(receiver.posts) == 2


HIGH = {"name": "High", "source": "local", "metric": "load", "op": ">", "threshold": 0.9}


def check(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--config", str(path)], capture_output=True, text=True
    )


def test_keep_firing_for_takes_the_durations_for_takes(write_config) -> None:
    path = write_config(
        """
        sources: [{name: local, collector: system}]
        alerts:
          - {name: A, source: local, condition: down, for: 10s, keep_firing_for: 1m30s}
          - {name: B, source: local, condition: down, keep_firing_for: 0}
          - {name: C, source: local, condition: down, keep_firing_for: 2.5}
          - {name: D, source: local, condition: down}
        """
    )
    assert [a.keep_firing_for for a in load_config(str(path)).alerts] == [90.0, 0.0, 2.5, 0.0]


def test_a_bad_keep_firing_for_is_reported_at_its_place(write_config) -> None:
    path = write_config(
        """
        sources: [{name: local, collector: system}]
        alerts:
          - name: Negative
            source: local
            condition: down
            keep_firing_for: -5m
          - name: Unreadable
            source: local
            condition: down
            keep_firing_for: 5x
          - name: Typo
            source: local
            condition: down
            keep_fireing_for: 5m
          - name: Huge
            source: local
            condition: down
            keep_firing_for: 400d
        """
    )
    result = check(path)
    assert result.returncode == 2
    lines = [line.removeprefix(f"{path}:") for line in result.stderr.splitlines()]
    assert lines == [
        "6:22: alerts[0].keep_firing_for: a duration must be zero or more, got '-5m'",
        "10:22: alerts[1].keep_firing_for: expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got '5x'",
        "14:5: alerts[2].keep_fireing_for: unknown key 'keep_fireing_for'; did you mean 'keep_firing_for'?",
        "18:22: alerts[3].keep_firing_for: a duration must be at most 365d, got '400d'",
        "monitor: 4 problems in the config; nothing started",
    ]


def test_the_schema_takes_keep_firing_for_as_check_does() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "schema"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    validator = jsonschema.Draft202012Validator(json.loads(result.stdout))

    def valid(value: str) -> bool:
        text = (
            "sources: [{name: local, collector: system}]\n"
            f"alerts: [{{name: A, source: local, condition: down, keep_firing_for: {value}}}]\n"
        )
        return not list(validator.iter_errors(load_yaml(text, "c.yaml", {}).data))

    values = ["1m30s", "0", "250ms", "2.5", "-1m", "5x", "-1"]
    assert [value for value in values if valid(value)] == ["1m30s", "0", "250ms", "2.5"]
