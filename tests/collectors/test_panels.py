"""What a dashboard panel lists for each network collector, through the real path: config,
scheduler, store, and the panel's own row builder. A collector's values are what its panel is
for; its bookkeeping (how long the command or scrape took) stays off the panel."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from monitor.alerts.definitions import Level
from monitor.config import parse_config
from monitor.once import collect_once
from monitor.store import MetricsStore
from monitor.tui.panel import PanelRow, panel_rows

PY = sys.executable


def panels(config_text: str, filter_text: str = "") -> dict[str, list[PanelRow]]:
    """Each source's panel rows after its first collection, as the overview builds them."""
    config = parse_config(textwrap.dedent(config_text), "panels.yaml", environ={})
    store = MetricsStore()
    snapshot = collect_once(config, store)
    rows = {}
    for source in config.sources:
        data = snapshot.sources[source.name]
        assert data.health.up, (source.name, data.health.last_error)
        state = data.state(snapshot.time)
        rows[source.name] = panel_rows(
            store, data, source.show, filter_text, state, snapshot.time, source.thresholds
        )[0]
    return rows


def labels(rows: list[PanelRow]) -> list[str]:
    return [row.label for row in rows]


def test_command_panels_list_what_the_program_prints(tmp_path: Path) -> None:
    (tmp_path / "val.txt").write_text("42\n")
    rows = panels(
        f"""
        sources:
          - name: queue
            collector: command
            argv: [cat, val.txt]
            cwd: {tmp_path}
            metric: queue_depth
            thresholds: {{queue_depth: {{warning: 10, critical: 40}}}}
          - name: default-name
            collector: command
            argv: [echo, "7"]
          - name: lines
            collector: command
            argv: [printf, 'jobs_waiting 3\\njobs_running{{pool="a"}} 2\\n']
          - name: json
            collector: command
            argv: ["{PY}", -c, "print('{{\\"backup\\": {{\\"age_seconds\\": 90}}}}')"]
        """
    )
    queue = rows["queue"]
    assert [(row.label, row.value) for row in queue] == [("queue depth", "42")]
    assert queue[0].level is Level.CRITICAL
    assert labels(rows["default-name"]) == ["value"]
    assert labels(rows["lines"]) == ["jobs waiting", "jobs running a"]
    assert [(row.label, row.value) for row in rows["json"]] == [("backup age", "1m30s")]


@pytest.mark.needs_node_exporter
def test_prometheus_panel_lists_the_scraped_metrics_and_filters_them(node_exporter: str) -> None:
    config = f"""
        sources:
          - name: node
            collector: prometheus
            url: {node_exporter}
          - name: load
            collector: prometheus
            url: {node_exporter}
            include: ["node_load*"]
        """
    rows = panels(config)
    assert sorted(labels(rows["load"])) == ["node load1", "node load15", "node load5"]
    assert len(rows["node"]) == 10  # the panel's cap: scraped series fill it, not the scrape's own
    assert not any(row.label.startswith("scrape") for row in rows["node"])
    filtered = panels(config, "load1")
    assert "node load1" in labels(filtered["node"])


@pytest.mark.needs_prometheus
@pytest.mark.needs_node_exporter
def test_promql_panel_lists_the_query_results(prometheus_server: str) -> None:
    rows = panels(
        f"""
        sources:
          - name: fleet
            collector: promql
            url: {prometheus_server}
            queries: {{fleet_two: "1 + 1", fleet_range: "up[1m]"}}
        """
    )
    assert [(row.label, row.value) for row in rows["fleet"]] == [("fleet two", "2")]
