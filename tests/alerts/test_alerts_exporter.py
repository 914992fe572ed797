"""A real Runtime: a command source whose value the test writes, the evaluator thread, and the
exporter's monitor_alert_state series and /api/v1/alerts."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable

import pytest

from monitor.config import load_config
from monitor.runtime import Runtime
from tests.conftest import free_port, require_binary


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.read()


def wait_for(check: Callable[[], object], what: str, deadline: float = 10.0) -> object:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def running(write_config, tmp_path):
    level = tmp_path / "level"
    level.write_text("5\n")
    config = write_config(
        f"""
        sources:
          - name: tank
            collector: command
            argv: [cat, "{level}"]
            format: number
            metric: tank_level
            interval: 100ms
            labels: {{site: north}}
        alerts:
          - name: TankHigh
            source: tank
            metric: tank_level
            labels: {{site: north}}
            op: ">"
            threshold: 10
            for: 300ms
            severity: critical
            summary: "tank at {{{{ value }}}} in {{{{ labels.site }}}}"
          - name: TankDown
            source: tank
            condition: down
        """
    )
    port = free_port()
    runtime = Runtime(load_config(str(config)), serve_metrics=True, listen=f"127.0.0.1:{port}")
    runtime.start()
    try:
        yield runtime, level, f"http://127.0.0.1:{port}"
    finally:
        assert runtime.stop() == []


def alerts_api(url: str) -> dict:
    return json.loads(fetch(f"{url}/api/v1/alerts"))


def states(url: str) -> dict[str, str]:
    return {a["name"]: a["state"] for a in alerts_api(url)["alerts"]}


def test_an_alert_goes_pending_fires_and_resolves_on_metrics_and_api(running) -> None:
    runtime, level, url = running
    wait_for(lambda: runtime.store.snapshot().sources["tank"].health.up, "the first collection")
    metrics = fetch(f"{url}/metrics").decode()
    assert 'monitor_alert_state{alertname="TankHigh",severity="critical",source="tank"} 0.0' in metrics
    assert 'monitor_alert_state{alertname="TankDown",severity="warning",source="tank"} 0.0' in metrics
    assert alerts_api(url)["alerts"] == []

    level.write_text("12.5\n")
    wait_for(lambda: states(url).get("TankHigh") == "firing", "TankHigh firing")
    body = alerts_api(url)
    high = body["alerts"][0]
    assert (high["value"], high["summary"], high["labels"]) == (
        12.5,
        "tank at 12.5 in north",
        {"site": "north", "source": "tank"},  # the labels of its series on /metrics
    )
    assert high["fired_at"] - high["active_since"] >= 0.3
    assert [(e["name"], e["state"]) for e in body["history"]] == [("TankHigh", "firing")]
    assert body["inactive"] == [{"name": "TankDown", "severity": "warning", "source": "tank"}]
    metrics = fetch(f"{url}/metrics").decode()
    assert (
        'monitor_alert_state{alertname="TankHigh",severity="critical",site="north",source="tank"} 2.0'
        in metrics
    )

    level.write_text("3\n")
    wait_for(lambda: states(url).get("TankHigh") == "resolved", "TankHigh resolved")
    assert [e["state"] for e in alerts_api(url)["history"]] == ["firing", "resolved"]
    assert runtime.alerting.current().history[-1].instance.resolved_at is not None


def answered_between(url: str) -> tuple[float, float, float]:
    before = time.time()
    answer = alerts_api(url)["time"]
    return before, answer, time.time()


def test_the_alerts_answer_carries_the_time_it_was_made(running, write_config) -> None:
    """Also while no alert has ever been active, when the evaluator has never had anything new
    to publish, and without any alert configured, when no evaluator runs at all."""
    runtime, _, url = running
    wait_for(lambda: runtime.store.snapshot().sources["tank"].health.up, "the first collection")
    before, answer, after = answered_between(url)
    assert before <= answer <= after

    config = write_config("sources: [{name: local, collector: system}]\n")
    port = free_port()
    bare = Runtime(load_config(str(config)), serve_metrics=True, listen=f"127.0.0.1:{port}")
    bare.start()
    try:
        body = alerts_api(f"http://127.0.0.1:{port}")
        before, answer, after = answered_between(f"http://127.0.0.1:{port}")
    finally:
        assert bare.stop() == []
    assert (body["alerts"], body["inactive"], body["history"]) == ([], [], [])
    assert before <= answer <= after


def test_a_source_that_fails_fires_its_down_alert(running) -> None:
    _, level, url = running
    level.unlink()
    wait_for(lambda: states(url).get("TankDown") == "firing", "TankDown firing")
    down = next(a for a in alerts_api(url)["alerts"] if a["name"] == "TankDown")
    assert down["summary"] == "source tank is down"
    # Those of monitor_source_up{site="north",source="tank"}, which its Prometheus rule matches:
    # a receiver routing on `site` gets it.
    assert down["labels"] == {"site": "north", "source": "tank"}
    metrics = fetch(f"{url}/metrics").decode()
    assert (
        'monitor_alert_state{alertname="TankDown",severity="warning",site="north",source="tank"} 2.0'
        in metrics
    )


def test_promtool_accepts_metrics_with_alerts_firing(running) -> None:
    promtool = require_binary("promtool")
    _, level, url = running
    level.write_text("50\n")
    wait_for(lambda: states(url).get("TankHigh") == "firing", "TankHigh firing")
    lint = subprocess.run([promtool, "check", "metrics"], input=fetch(f"{url}/metrics"), capture_output=True)
    assert (lint.returncode, lint.stderr.decode()) == (0, "")


def test_webhook_delivery_is_counted_on_metrics(write_config, tmp_path, closed_port: int) -> None:
    """Failing notifications must be alertable: the counters existed but were not exported."""
    config = write_config(
        f"""
        sources:
          - {{name: tank, collector: command, argv: [echo, "50"], format: number, metric: tank_level, interval: 100ms}}
        alerts:
          - {{name: TankHigh, source: tank, metric: tank_level, op: ">", threshold: 10}}
        webhook: {{url: "http://127.0.0.1:{closed_port}/hook", retries: 0, timeout: 1s}}
        """
    )
    port = free_port()
    runtime = Runtime(load_config(str(config)), serve_metrics=True, listen=f"127.0.0.1:{port}")
    runtime.start()
    try:
        url = f"http://127.0.0.1:{port}"

        def failed_attempts() -> float:
            for line in fetch(f"{url}/metrics").decode().splitlines():
                if line.startswith("monitor_webhook_attempts_failed_total "):
                    return float(line.split()[1])
            return 0.0

        wait_for(lambda: failed_attempts() >= 1, "a failed delivery attempt on /metrics")
        assert "monitor_webhook_messages_queued " in fetch(f"{url}/metrics").decode()
    finally:
        runtime.stop()


def test_a_kept_alert_stays_firing_on_metrics_and_api_until_keep_firing_for_passes(
    write_config, tmp_path
) -> None:
    level = tmp_path / "level"
    level.write_text("50\n")
    config = write_config(
        f"""
        sources:
          - {{name: tank, collector: command, argv: [cat, "{level}"], format: number, metric: tank_level,
              interval: 100ms}}
        alerts:
          - {{name: TankHigh, source: tank, metric: tank_level, op: ">", threshold: 10, keep_firing_for: 3s}}
        """
    )
    port = free_port()
    runtime = Runtime(load_config(str(config)), serve_metrics=True, listen=f"127.0.0.1:{port}")
    runtime.start()
    url = f"http://127.0.0.1:{port}"
    firing = 'monitor_alert_state{alertname="TankHigh",severity="warning",source="tank"} 2.0'
    try:
        wait_for(lambda: states(url).get("TankHigh") == "firing", "TankHigh firing")
        level.write_text("5\n")
        wait_for(lambda: 'tank_level{source="tank"} 5.0' in fetch(f"{url}/metrics").decode(), "the drop")
        dropped = time.monotonic()
        time.sleep(0.5)  # a few evaluations (at least every 0.2 s) under the threshold
        assert firing in fetch(f"{url}/metrics").decode()
        high = alerts_api(url)["alerts"][0]
        assert (high["state"], high["value"], high["resolved_at"]) == ("firing", 50.0, None)
        assert time.time() - 1.5 < high["keep_firing_since"] < time.time()  # kept since the drop
        assert [e["state"] for e in alerts_api(url)["history"]] == ["firing"]
        wait_for(lambda: states(url).get("TankHigh") == "resolved", "TankHigh resolved")
        assert time.monotonic() - dropped > 2.0  # 3 s after the evaluation that saw the drop
        assert firing not in fetch(f"{url}/metrics").decode()
        assert [e["state"] for e in alerts_api(url)["history"]] == ["firing", "resolved"]
    finally:
        assert runtime.stop() == []
