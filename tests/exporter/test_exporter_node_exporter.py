"""The real `monitor --headless` scraping a real node_exporter: its page has a gauge and a
counter of one OpenMetrics name (go_memstats_alloc_bytes, go_memstats_alloc_bytes_total) and
`process_*` families monitor exports for itself too; /metrics must still lint clean and parse.

promtool 2.42 reads the text format only (it rejects OpenMetrics' `unknown` type and finds no
help for a counter's `_total` samples there), so the OpenMetrics body is checked with
prometheus_client's OpenMetrics parser, which refuses clashing names."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest
from exporter_support import headless
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from test_exporter_headless import wait_all_up

from tests.collectors import conftest as collector_fixtures
from tests.conftest import free_port, require_binary

pytestmark = [pytest.mark.needs_prometheus, pytest.mark.needs_node_exporter]

node_exporter = collector_fixtures.node_exporter
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def fetch(url: str, accept: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


def promtool_problems(promtool: str, page: str) -> set[str]:
    """promtool's lint complaints; a page it cannot parse fails the test."""
    result = subprocess.run([promtool, "check", "metrics"], input=page, capture_output=True, text=True)
    assert result.returncode in (0, 3) and "error while linting" not in result.stderr, result.stderr
    return set(result.stderr.splitlines())


def test_metrics_with_a_real_node_exporter_scraped_pass_promtool_and_both_parsers(
    node_exporter: str, tmp_path: Path
) -> None:
    promtool = require_binary("promtool")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"interval: 1s\nsources:\n  - {{name: node, collector: prometheus, url: '{node_exporter}'}}\n"
    )
    port = free_port()
    with headless(config, port):
        wait_all_up(port)
        text = fetch(f"http://127.0.0.1:{port}/metrics")
        openmetrics = fetch(f"http://127.0.0.1:{port}/metrics", OPENMETRICS)
    node_page = fetch(node_exporter)

    # node_exporter's own page fails promtool's lint (camelCase names, a `_bits` unit); monitor
    # keeps its names, so those complaints remain. Nothing else may: no parse error, no other lint.
    inherited = promtool_problems(promtool, node_page)
    assert promtool_problems(promtool, text) <= inherited
    assert openmetrics.endswith("# EOF\n")

    # Every family node_exporter writes keeps its type and help in the text format, once.
    ours = {(f.name, f.type): f for f in parse_text(text)}
    for family in parse_text(node_page):
        exported = ours.get((family.name, family.type))
        assert exported is not None, f"{family.name} ({family.type}) is missing"
        assert exported.documentation == family.documentation
        assert any(s.labels.get("source") == "node" for s in exported.samples), family.name
    headers = [line.split(" ")[2] for line in text.splitlines() if line.startswith("# HELP ")]
    assert len(headers) == len(set(headers))

    om = {(f.name, f.type): f for f in parse_openmetrics(openmetrics)}
    node_samples = {s.name for family in parse_text(node_page) for s in family.samples}
    assert node_samples <= {
        s.name for f in om.values() for s in f.samples if s.labels.get("source") == "node"
    }
    assert ("go_memstats_alloc_bytes", "gauge") in om
    assert ("go_memstats_alloc_bytes_total", "unknown") in om  # OpenMetrics cannot hold both typed
    virtual = om[("process_virtual_memory_bytes", "gauge")].samples
    assert {s.labels.get("source") for s in virtual} == {"node", None}  # node's and monitor's own


def test_series_past_max_series_are_counted_as_dropped_on_metrics_and_the_api(
    node_exporter: str, tmp_path: Path
) -> None:
    """node_exporter writes about 500 series; with `max_series: 100` the collector stops reading
    at the cap. Those unread series were only in `promscrape_samples_dropped`, while
    `monitor_source_series_dropped` (what an alert on the cap watches) and the API said 0, and
    the partial error named a cap of 97 (the 100 less the collector's own three series)."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "interval: 1m\nsources:\n"
        f"  - {{name: node, collector: prometheus, url: '{node_exporter}', max_series: 100}}\n"
    )
    port = free_port()
    with headless(config, port):
        api = wait_all_up(port)["node"]
        text = fetch(f"http://127.0.0.1:{port}/metrics")
    values = {
        sample.name: sample.value
        for family in parse_text(text)
        for sample in family.samples
        if sample.labels.get("source") == "node" and not sample.labels.keys() - {"source"}
    }
    dropped = values["promscrape_samples_dropped"]
    assert dropped > 300  # what the page holds past the cap, none skipped for its names
    assert values["monitor_source_series"] == 100
    assert values["monitor_source_series_dropped"] == dropped
    assert (api["series_count"], api["series_dropped"]) == (100, dropped)
    assert api["partial_errors"] == [
        f"{int(dropped)} series over max_series (100) dropped; raise max_series or narrow what the source collects"
    ]
    assert promtool_problems(require_binary("promtool"), text) <= promtool_problems(
        require_binary("promtool"), fetch(node_exporter)
    )
