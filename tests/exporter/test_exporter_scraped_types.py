"""Histograms and summaries scraped by the `prometheus` collector are re-exported whole, as
the same types, so /metrics stays lint-clean and Prometheus sees real histograms."""

from __future__ import annotations

import subprocess

import pytest
from exporter_support import add_source
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from collectors.exposition import ExpositionParser
from monitor.exporter import MetricsRenderer
from monitor.store import MetricsStore
from tests.conftest import require_binary

SCRAPED = """\
# HELP job_seconds How long jobs take.
# TYPE job_seconds histogram
job_seconds_bucket{le="0.1"} 3
job_seconds_bucket{le="1"} 5
job_seconds_bucket{le="+Inf"} 6
job_seconds_sum 2.5
job_seconds_count 6
# HELP rpc_seconds RPC latency.
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds{quantile="0.99"} 0.9
rpc_seconds_sum 12.0
rpc_seconds_count 40
# HELP hits_total Hits.
# TYPE hits_total counter
hits_total 7
"""

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def rendered(accept: str | None = None, scraped: str = SCRAPED) -> str:
    parsed = ExpositionParser([], [], 1000).parse(scraped)
    store = MetricsStore()
    add_source(
        store, "svc", {s.key: s.value for s in parsed.samples}, specs=parsed.specs, collector="prometheus"
    )
    chunks, _ = MetricsRenderer(store.snapshot).render(accept)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    ("accept", "parse"), [(None, text_string_to_metric_families), (OPENMETRICS, parse_openmetrics)]
)
def test_histograms_and_summaries_keep_their_type_and_every_part(accept, parse) -> None:
    families = {
        f.name: f for f in parse(rendered(accept)) if f.name in ("job_seconds", "rpc_seconds", "hits")
    }
    assert {name: f.type for name, f in families.items()} == {
        "job_seconds": "histogram",
        "rpc_seconds": "summary",
        "hits": "counter",
    }
    buckets = {
        s.labels["le"]: s.value for s in families["job_seconds"].samples if s.name == "job_seconds_bucket"
    }
    assert buckets == {"0.1": 3.0, "1": 5.0, "+Inf": 6.0}
    assert all(s.labels["source"] == "svc" for f in families.values() for s in f.samples)
    assert {s.name for s in families["rpc_seconds"].samples} == {
        "rpc_seconds",
        "rpc_seconds_sum",
        "rpc_seconds_count",
    }


def test_promtool_finds_nothing_to_lint_in_re_exported_histograms() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=rendered(), capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_scraped_timestamp_keeps_the_seconds_unit_in_openmetrics() -> None:
    """The dashboard shows it as an age (Unit.TIMESTAMP); Prometheus still sees seconds."""
    scraped = "# TYPE app_start_time_seconds gauge\napp_start_time_seconds 1795565951\n"
    (family,) = [
        f for f in parse_openmetrics(rendered(OPENMETRICS, scraped)) if f.name == "app_start_time_seconds"
    ]
    assert (family.type, family.unit, family.samples[0].value) == ("gauge", "seconds", 1795565951)
