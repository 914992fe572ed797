"""A source whose block cannot be written on /metrics is named there, in
`monitor_source_export_failed`, and logged once, not left out with only an ERROR traceback at
every re-encoding while `monitor_source_up` said 1 (the validator refuses what it knows cannot
be written; this is for the rest: a static label from an environment variable that is not
UTF-8, a bug)."""

from __future__ import annotations

import logging
import subprocess

import pytest
from exporter_support import add_source
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from monitor.exporter import MetricsRenderer
from monitor.exporter import families as families_module
from monitor.exporter.render import EXPORT_FAILED
from monitor.store import MetricsStore
from tests.conftest import require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def body(renderer: MetricsRenderer, accept: str | None = None) -> str:
    return b"".join(renderer.render(accept)[0]).decode()


def failed_sources(text: str, parse=text_string_to_metric_families) -> dict[str, float]:
    return {
        sample.labels["source"]: sample.value
        for family in parse(text)
        if family.name == EXPORT_FAILED
        for sample in family.samples
    }


@pytest.fixture
def store() -> MetricsStore:
    store = MetricsStore()
    add_source(store, "ok", {("ok_value", ()): 1.0})
    # Reached the store without the poller (which refuses such a value): values unwritable.
    add_source(store, "values", {("file_size_bytes", (("path", "caf\udce9"),)): 1.0, ("dir_files", ()): 2.0})
    # A static label from ${VAR} holding bytes that are not UTF-8: its health cannot be written either.
    add_source(store, "labelled", {("x", ()): 1.0}, labels=(("team", "ops\udce9"),))
    return store


def test_a_source_that_cannot_be_written_is_named_on_metrics_and_the_rest_is_whole(store) -> None:
    renderer = MetricsRenderer(store.snapshot)
    for accept, parse in ((None, text_string_to_metric_families), (OPENMETRICS, parse_openmetrics)):
        text = body(renderer, accept)
        assert failed_sources(text, parse) == {"values": 1.0, "labelled": 1.0}
        families = {family.name: family for family in parse(text)}
        assert [s.labels["source"] for s in families["monitor_source_up"].samples] == ["ok", "values"]
        assert [s.labels["source"] for s in families["ok_value"].samples] == ["ok"]
        assert "dir_files" not in families  # the block of `values` is its health only
    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=body(renderer).encode(), capture_output=True
    )
    assert (linted.returncode, linted.stderr) == (0, b"")


def test_it_is_logged_once_when_it_starts_and_once_when_it_ends(store, caplog) -> None:
    renderer = MetricsRenderer(store.snapshot)
    with caplog.at_level(logging.INFO, logger="monitor.exporter.render"):
        for _ in range(3):
            add_source(store, "values", {("file_size_bytes", (("path", "caf\udce9"),)): 1.0})  # re-encoded
            body(renderer)
            body(renderer, OPENMETRICS)
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage() for record in errors] == [
        "source 'values': cannot encode its metrics for /metrics: exported with its health only, and "
        f"named in {EXPORT_FAILED} until it can",
        "source 'labelled': cannot encode its metrics for /metrics: left out, and named in "
        f"{EXPORT_FAILED} until it can",
    ]
    assert all(record.exc_info for record in errors)  # the traceback, once
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="monitor.exporter.render"):
        add_source(store, "values", {("dir_files", ()): 3.0})
        text = body(renderer)
    assert failed_sources(text) == {"labelled": 1.0}
    assert 'dir_files{source="values"} 3.0\n' in text
    assert [record.getMessage() for record in caplog.records] == [
        "source 'values': its metrics are written on /metrics again"
    ]


def test_no_failure_no_family(store) -> None:
    clean = MetricsStore()
    add_source(clean, "ok", {("ok_value", ()): 1.0})
    assert EXPORT_FAILED not in body(MetricsRenderer(clean.snapshot))


def test_values_that_cannot_be_turned_into_families_are_named_too(monkeypatch) -> None:
    """SourceCollector leaves out what it cannot build (it must never fail the scrape): that
    was only a log line at every re-encoding."""

    def broken(source):
        raise RuntimeError("a bug")

    monkeypatch.setattr(families_module, "value_families", broken)
    store = MetricsStore()
    add_source(store, "ok", {("ok_value", ()): 1.0})
    text = body(MetricsRenderer(store.snapshot))
    assert failed_sources(text) == {"ok": 1.0}
    assert 'monitor_source_up{source="ok"} 1.0\n' in text
