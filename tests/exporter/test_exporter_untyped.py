"""Series nobody gave a type (a command's or a scraped page's lines without `# TYPE`, samples
without a spec) are exported as `untyped`, not as gauges: a `_total` name then passes promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from exporter_support import add_source, get, headless
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from test_exporter_headless import wait_all_up

from collectors.exposition import ExpositionParser
from monitor.exporter import MetricsRenderer
from monitor.model import MetricSpec, MetricType
from monitor.store import MetricsStore
from tests.conftest import free_port, require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
UNTYPED_PAGE = "foo_total 3\nqueue_depth 7\n"


def lint(body: bytes) -> tuple[int, str, str]:
    result = subprocess.run([require_binary("promtool"), "check", "metrics"], input=body, capture_output=True)
    return result.returncode, result.stderr.decode(), result.stdout.decode()


def rendered(accept: str | None = None, origin: str = "scraped") -> bytes:
    parsed = ExpositionParser([], [], 100, origin=origin).parse(UNTYPED_PAGE)
    store = MetricsStore()
    add_source(store, "svc", {s.key: s.value for s in parsed.samples}, specs=parsed.specs)
    add_source(
        store,
        "declared",
        {("jobs_total", ()): 1.0, ("temp_celsius", ()): 20.0, ("mystery_total", ()): 2.0},
        specs={
            "jobs_total": MetricSpec("jobs_total", "Jobs.", type=MetricType.COUNTER),
            "temp_celsius": MetricSpec("temp_celsius", "Temperature."),
        },
    )
    return b"".join(MetricsRenderer(lambda: store.snapshot()).render(accept)[0])


@pytest.mark.needs_prometheus
def test_a_commands_total_line_without_type_is_untyped_on_real_metrics_and_promtool_passes(
    tmp_path: Path,
) -> None:
    (tmp_path / "lines.txt").write_text(UNTYPED_PAGE)
    config = tmp_path / "config.yaml"
    config.write_text(
        "interval: 1s\nsources:\n"
        f"  - {{name: lines, collector: command, argv: [cat, '{tmp_path}/lines.txt'], format: lines}}\n"
    )
    port = free_port()
    with headless(config, port):
        wait_all_up(port)
        status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    text = body.decode()
    assert "# HELP foo_total foo_total (from the command's output, no type given)\n" in text
    assert "# TYPE foo_total untyped\n" in text and "# TYPE queue_depth untyped\n" in text
    assert 'foo_total{source="lines"} 3.0\n' in text
    assert "scraped" not in text.split("# HELP foo_total")[1].split("\n")[0]
    assert lint(body) == (0, "", "")


@pytest.mark.parametrize(
    ("accept", "parse", "written"),
    [(None, text_string_to_metric_families, "untyped"), (OPENMETRICS, parse_openmetrics, "unknown")],
)
def test_untyped_in_both_formats_while_declared_types_stay(accept, parse, written) -> None:
    body = rendered(accept).decode()
    assert f"# TYPE foo_total {written}\n" in body
    assert f"# TYPE mystery_total {written}\n" in body  # a sample with no spec at all
    types = {f.name: f.type for f in parse(body)}
    assert types["foo_total"] == types["queue_depth"] == types["mystery_total"] == "unknown"
    assert (types["jobs"], types["temp_celsius"]) == ("counter", "gauge")


@pytest.mark.needs_prometheus
def test_promtool_passes_untyped_total_series_from_a_scraped_page() -> None:
    body = rendered()
    assert b"# HELP foo_total foo_total (scraped, no type given)\n" in body
    assert lint(body) == (0, "", "")
