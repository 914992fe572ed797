"""A source that stops answering is down at once and, once its stale_after has passed without
a success, stale as well: `monitor_source_stale`, a `stale` alert in monitor and the rule
`monitor rules` writes for it all say so, while the dashboard's badge keeps saying down."""

from __future__ import annotations

import dataclasses
import json
import textwrap
import urllib.request

import pytest
from alerts_support import Clock, Fleet, alert, told

from monitor.alerts.engine import AlertEngine
from monitor.model import SourceHealth, SourceState
from tests.alerts.prometheus_support import own_alerts, prometheus_config_over, running_prometheus
from tests.conftest import free_port
from tests.exporter.exporter_support import get, headless


def collected(previous: SourceHealth, now: float, ok: bool) -> SourceHealth:
    """The next health as the poller makes it: from the previous one, keeping its last success."""
    if ok:
        return dataclasses.replace(
            previous, up=True, collections=previous.collections + 1, last_attempt=now, last_success=now
        )
    return dataclasses.replace(
        previous, up=False, collections=previous.collections + 1, last_attempt=now, last_error="refused"
    )


def states(engine: AlertEngine) -> list[tuple[str, str]]:
    return [(a.alert, str(a.state)) for a in engine.view.alerts]


def test_a_stale_alert_fires_for_a_source_that_fails_past_its_stale_after(fleet: Fleet, clock: Clock) -> None:
    engine = AlertEngine(
        [alert(condition="stale", summary="{{ source }} sent nothing"), alert(name="Down", condition="down")]
    )
    health = collected(SourceHealth(stale_after=10.0), clock(), ok=True)
    engine.evaluate(fleet.store.publish("local", health, {}), clock())
    assert states(engine) == []
    for _ in range(10):  # failing every second, up to the 10th: down, not yet stale
        health = collected(health, clock.advance(1), ok=False)
        told_now = told(engine.evaluate(fleet.store.publish("local", health), clock()))
        assert told_now == ([("Down", "firing")] if health.collections == 2 else [])
    assert health.state(clock()) is SourceState.DOWN and not health.stale(clock())
    # Past stale_after since the last success, with no collection in between (a long backoff):
    # time alone makes it stale.
    events = engine.evaluate(fleet.store.snapshot(), clock.advance(0.5))
    assert [(e.instance.alert, str(e.state), e.instance.summary) for e in events] == [
        ("Gone", "firing", "local sent nothing")
    ]
    assert health.state(clock()) is SourceState.DOWN  # the badge still says down
    health = collected(health, clock.advance(1), ok=True)
    assert sorted(told(engine.evaluate(fleet.store.publish("local", health, {}), clock()))) == [
        ("Down", "resolved"),
        ("Gone", "resolved"),
    ]


def test_a_source_that_never_succeeded_is_stale_its_stale_after_after_its_first_collection(
    fleet: Fleet, clock: Clock
) -> None:
    engine = AlertEngine([alert(condition="stale")])
    first = clock()
    health = collected(SourceHealth(stale_after=5.0), first, ok=False)
    engine.evaluate(fleet.store.publish("local", health), clock())
    health = collected(health, clock.advance(4), ok=False)
    assert health.first_attempt == first and health.last_success is None
    assert engine.evaluate(fleet.store.publish("local", health), clock.advance(1)) == []
    assert told(engine.evaluate(fleet.store.snapshot(), clock.advance(0.2))) == [("Gone", "firing")]


def metrics_value(port: int, line_start: str) -> float | None:
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    found = [line for line in body.decode().splitlines() if line.startswith(line_start + " ")]
    return float(found[0].split()[-1]) if found else None


@pytest.mark.needs_prometheus
def test_a_dead_source_is_stale_on_metrics_in_monitor_and_in_prometheus(tmp_path) -> None:
    """A real `monitor --headless` whose source stops answering, and a real Prometheus scraping
    it with the rules `monitor rules` wrote: both fire the stale alert while it is down, and
    so does a source that has failed since monitor started."""
    level = tmp_path / "level"
    level.write_text("1\n")
    config = tmp_path / "monitor.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            interval: 250ms
            sources:
              - {{name: tank, collector: command, argv: [cat, "{level}"], format: number,
                  metric: tank_level, stale_after: 2s}}
              - {{name: never, collector: command, argv: [cat, "{tmp_path / "missing"}"], format: number,
                  metric: never_level, stale_after: 2s}}
            alerts:
              - {{name: TankStale, source: tank, condition: stale, summary: "{{{{ source }}}} sent nothing"}}
              - {{name: NeverStale, source: never, condition: stale}}
            """
        )
    )
    monitor_port, prometheus_port = free_port(), free_port()
    prometheus_config = prometheus_config_over(tmp_path, config, monitor_port)
    with (
        running_prometheus(tmp_path, prometheus_config, prometheus_port) as prometheus,
        headless(config, monitor_port),
    ):

        def firing(name: str) -> list[dict]:
            alerts = prometheus.api("alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

        prometheus.wait_for(lambda: firing("NeverStale"), "NeverStale firing")
        prometheus.wait_for(
            lambda: prometheus.api("query", query='monitor_source_up{source="tank"} == 1')["result"],
            "tank up",
        )
        assert firing("TankStale") == []
        level.unlink()
        tank = prometheus.wait_for(lambda: firing("TankStale"), "TankStale firing")
        assert tank[0]["annotations"]["summary"] == "tank sent nothing"
        assert metrics_value(monitor_port, 'monitor_source_up{source="tank"}') == 0
        assert metrics_value(monitor_port, 'monitor_source_stale{source="tank"}') == 1
        assert metrics_value(monitor_port, 'monitor_source_stale{source="never"}') == 1
        own = {a["name"]: a["state"] for a in own_alerts(monitor_port)}
        assert own == {"TankStale": "firing", "NeverStale": "firing"}
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/api/v1/sources", timeout=2) as response:
            sources = json.loads(response.read())["sources"]
        assert {name: (s["state"], s["stale"]) for name, s in sources.items()} == {
            "tank": ("down", True),
            "never": ("down", True),
        }
