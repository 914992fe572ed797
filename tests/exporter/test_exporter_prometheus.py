"""A real Prometheus scraping a real `monitor --headless` running every built-in collector.

With CI=true a missing prometheus or promtool fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from exporter_support import get, headless
from test_exporter_headless import wait_all_up

from monitor.registry import Registry
from tests.conftest import free_port, require_binary

pytestmark = pytest.mark.needs_prometheus

SCRAPE_INTERVAL = "1s"


def every_collector_config(port: int, prometheus_port: int) -> str:
    """One source per built-in collector, each pointed at something real on this machine."""
    return textwrap.dedent(
        f"""
        interval: 1s
        max_backoff: 1s
        sources:
          - name: local
            collector: system
            labels: {{role: "it's a \\"test\\" machine", site: Zürich}}
          - name: self-api
            collector: http
            url: http://127.0.0.1:{port}/api/v1/sources
            json:
              selfapi_snapshot_version: $.version
          - name: self-port
            collector: tcp
            host: 127.0.0.1
            port: {port}
          - name: echo
            collector: command
            argv: [echo, "42"]
            format: number
            metric: echo_answer
          - name: self-metrics
            collector: prometheus
            url: http://127.0.0.1:{port}/metrics
            include: ["system_load*", "system_memory_*"]
          - name: fleet
            collector: promql
            url: http://127.0.0.1:{prometheus_port}
            queries:
              fleet_up: up
        """
    )


def builtin_collectors() -> set[str]:
    registry = Registry.discover()
    return {name for name, point in registry.entry_points.items() if point.value.startswith("collectors.")}


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def query(self, promql: str) -> list[dict]:
        status, body = get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def wait_for(self, promql: str, predicate, deadline: float = 25.0) -> list[dict]:
        """Prometheus makes the first samples queryable only after 5-6 s: poll, bounded."""
        end = time.monotonic() + deadline
        result: list[dict] = []
        while time.monotonic() < end:
            result = self.query(promql)
            if predicate(result):
                return result
            time.sleep(0.5)
        raise AssertionError(f"{promql} never satisfied the check; last result: {result}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[tuple[Prometheus, int]]:
    binary = require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    monitor_port, prometheus_port = free_port(), free_port()
    (tmp / "prometheus.yml").write_text(
        textwrap.dedent(
            f"""
            global: {{scrape_interval: {SCRAPE_INTERVAL}, evaluation_interval: {SCRAPE_INTERVAL}}}
            scrape_configs:
              - job_name: monitor
                static_configs: [{{targets: ["127.0.0.1:{monitor_port}"]}}]
            """
        )
    )
    (tmp / "monitor.yaml").write_text(every_collector_config(monitor_port, prometheus_port))
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "prometheus.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        prometheus = Prometheus(prometheus_port)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                if get(f"{prometheus.url}/-/ready", timeout=0.5)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        with headless(tmp / "monitor.yaml", monitor_port):
            yield prometheus, monitor_port
    finally:
        server.terminate()
        server.wait(10)


def test_the_config_covers_every_builtin_collector() -> None:
    configured = {
        line.split(":")[1].strip()
        for line in every_collector_config(1, 2).splitlines()
        if "collector:" in line
    }
    assert configured == builtin_collectors(), "add the new collector to every_collector_config"


def test_prometheus_scrapes_monitor_and_sees_every_source(fleet) -> None:
    prometheus, monitor_port = fleet
    up = prometheus.wait_for('up{job="monitor"}', lambda r: r and r[0]["value"][1] == "1")
    assert up[0]["metric"]["instance"] == f"127.0.0.1:{monitor_port}"
    sources = {"local", "self-api", "self-port", "echo", "self-metrics", "fleet"}
    result = prometheus.wait_for(
        "monitor_source_up == 1", lambda r: {s["metric"]["source"] for s in r} == sources
    )
    assert all(series["metric"]["job"] == "monitor" for series in result)
    memory = prometheus.wait_for('system_memory_total_bytes{source="local"}', bool)
    assert memory[0]["metric"]["site"] == "Zürich"
    assert memory[0]["metric"]["role"] == 'it\'s a "test" machine'
    assert 64 * 2**20 < float(memory[0]["value"][1]) < 2**50
    cpus = prometheus.query('system_cpus{source="local"}')
    assert float(cpus[0]["value"][1]) == os.cpu_count()
    echo = prometheus.wait_for('echo_answer{source="echo"}', bool)
    assert echo[0]["value"][1] == "42"


def test_promtool_finds_nothing_to_lint_with_every_builtin_collector(fleet) -> None:
    promtool = require_binary("promtool")
    _, monitor_port = fleet
    sources = wait_all_up(monitor_port, deadline=25)
    assert {s["collector"] for s in sources.values()} == builtin_collectors()
    status, body = get(f"http://127.0.0.1:{monitor_port}/metrics")
    assert status == 200
    for metric in (
        "selfapi_snapshot_version",
        "tcp_connect_seconds",
        "echo_answer",
        "fleet_up",
        "system_load1",
    ):
        assert metric.encode() in body
    lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    assert (lint.returncode, lint.stderr.decode(), lint.stdout.decode()) == (0, "", "")
