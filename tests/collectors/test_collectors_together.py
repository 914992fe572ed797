"""The network collectors under the real scheduler and the real `monitor` command: a
misbehaving server costs only its own source, secrets stay out of every output, and
`monitor once` runs every collector against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from urllib.parse import quote, quote_plus

import pytest

from monitor.config import parse_config
from monitor.model import SourceState
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore

SECRET = "hunter2-very-secret"


def test_misbehaving_servers_cost_only_their_own_source(server_process):
    url = server_process
    config = parse_config(
        textwrap.dedent(
            f"""
            sources:
              - {{name: healthy, collector: http, url: "{url}/json", interval: 1s}}
              - {{name: hung, collector: http, url: "{url}/hung", interval: 1s, timeout: 500ms}}
              - {{name: huge, collector: http, url: "{url}/huge", interval: 1s}}
              - {{name: garbage, collector: prometheus, url: "{url}/garbage", interval: 1s}}
              - {{name: explosion, collector: prometheus, url: "{url}/many", max_series: 500,
                  interval: 2s, timeout: 2s}}
            """
        ),
        "test.yaml",
        environ={},
    )
    store = MetricsStore()
    scheduler = Scheduler(config, store, start_jitter=False)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        snapshot = store.snapshot()
        while time.monotonic() < deadline:
            sources = snapshot.sources
            if sources["healthy"].health.collections >= 5 and all(
                s.health.collections >= 1 for s in sources.values()
            ):
                break
            snapshot = store.wait_for_change(snapshot.version, 1.0)
    finally:
        scheduler.stop()
    now = snapshot.time
    sources = snapshot.sources
    healthy = sources["healthy"].health
    assert healthy.collections >= 5
    assert healthy.errors_total == 0 and healthy.overruns == 0, healthy
    assert sources["healthy"].state(now) == SourceState.UP
    for name, error in {
        "hung": "no response within 0.5s",
        "huge": "larger than max_response_size",
        "garbage": "invalid exposition text near line 2",
    }.items():
        assert sources[name].state(now) == SourceState.DOWN, name
        assert error in sources[name].health.last_error, name
    explosion = sources["explosion"]
    assert explosion.state(now) == SourceState.UP, explosion.health
    assert len(explosion.series) == 500
    assert explosion.health.series_dropped == 199503  # the page's 200,000 and 3 own, 500 kept
    assert explosion.health.partial_errors == (
        "199503 series over max_series (500) dropped; raise max_series or narrow what the source collects",
    )


def monitor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    "secret",
    [SECRET, "p4ss|w0rd^x", "key with space", "ümlaut{key}", 'a"b<c>d'],
    ids=["plain", "symbols", "spaces", "non-ascii", "quotes"],
)
def test_secrets_stay_out_of_errors_and_output(server, write_config, secret: str):
    """A secret that a URL carries percent-encoded (`p4ss%7Cw0rd%5Ex`, a space as `+`) was
    shown in that form in every error: only the secret as written was redacted."""
    closed = server.port
    server.__exit__(None, None, None)
    path = write_config(
        f"""
        sources:
          - name: query-token
            collector: http
            url: "http://127.0.0.1:{closed}/json?token=${{API_TOKEN}}"
            bearer_token: ${{API_TOKEN}}
          - name: userinfo
            collector: prometheus
            url: "http://scraper:${{API_TOKEN}}@127.0.0.1:{closed}/metrics"
          - name: basic
            collector: promql
            url: http://127.0.0.1:{closed}
            basic_auth: {{username: monitor, password: "${{API_TOKEN}}"}}
            queries: {{x: up}}
        """
    )
    for output_format in ("table", "json"):
        result = monitor("once", "--config", str(path), "--format", output_format, env={"API_TOKEN": secret})
        assert result.returncode == 1, result.stderr  # its sources are down
        assert "cannot connect" in result.stdout
        shown = result.stdout + result.stderr
        assert [form for form in written_forms(secret) if form in shown] == [], shown
    assert "token=***" in result.stdout


def written_forms(secret: str) -> set[str]:
    """The ways a URL, JSON or a message can write the secret (the table and JSON outputs)."""
    escaped = json.dumps(secret)[1:-1]
    return {secret, escaped, quote(secret), quote(secret, safe=""), quote_plus(secret)}


@pytest.mark.needs_prometheus
@pytest.mark.needs_node_exporter
def test_monitor_once_runs_every_collector(node_exporter, prometheus_server, write_config):
    port = int(node_exporter.split(":")[2].split("/")[0])
    path = write_config(
        f"""
        timeout: 3s
        interval: 5s
        sources:
          - {{name: web, collector: http, url: "{node_exporter}", expect_body: node_load1}}
          - {{name: node, collector: prometheus, url: "{node_exporter}", include: [node_load1]}}
          - {{name: fleet, collector: promql, url: "{prometheus_server}", queries: {{fleet_up: up}}}}
          - name: script
            collector: command
            argv: ["{sys.executable}", "-c", "print('jobs_waiting 4')"]
          - {{name: port, collector: tcp, host: 127.0.0.1, port: {port}}}
        """
    )
    result = monitor("once", "--config", str(path), "--format", "json", env={})
    assert result.returncode == 0, result.stderr
    sources = json.loads(result.stdout)["sources"]
    assert {name: s["state"] for name, s in sources.items()} == dict.fromkeys(
        ["web", "node", "fleet", "script", "port"], "up"
    )

    def value(source: str, metric: str) -> float:
        return next(s["value"] for s in sources[source]["series"] if s["name"] == metric)

    assert value("web", "http_check_success") == 1
    assert value("node", "node_load1") >= 0
    assert value("fleet", "fleet_up") == 1
    assert value("script", "jobs_waiting") == 4
    assert value("port", "tcp_connect_seconds") > 0
