"""/metrics content: one family per name, source labels, health vs values, escaping."""

from __future__ import annotations

import dataclasses

from exporter_support import NOW, add_source, failed, healthy
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from monitor.exporter import MetricsRenderer
from monitor.model import MetricSpec, MetricType, Unit
from monitor.store import MetricsStore

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
SPECS = {
    "disk_used_bytes": MetricSpec("disk_used_bytes", "Disk used.", Unit.BYTES),
    "requests_total": MetricSpec("requests_total", "Requests served.", type=MetricType.COUNTER),
}


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def families(text: bytes) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text.decode())}


def renderer(store: MetricsStore, now: float = NOW) -> MetricsRenderer:
    return MetricsRenderer(store.snapshot, clock=lambda: now)


def render(metrics: MetricsRenderer, accept: str | None = None) -> tuple[bytes, str]:
    chunks, content_type = metrics.render(accept)
    return b"".join(chunks), content_type


def test_every_series_carries_source_and_static_labels_and_each_family_appears_once() -> None:
    store = MetricsStore()
    add_source(
        store, "web1", {("disk_used_bytes", (("mount", "/"),)): 5.0}, labels=(("env", "prod"),), specs=SPECS
    )
    add_source(store, "web2", {("disk_used_bytes", (("mount", "/"),)): 7.0}, specs=SPECS)
    body, content_type = render(renderer(store))
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    assert text.count("# TYPE disk_used_bytes gauge") == 1
    assert text.count("# TYPE monitor_source_up gauge") == 1
    got = samples(body)
    assert got[("disk_used_bytes", (("env", "prod"), ("mount", "/"), ("source", "web1")))] == 5.0
    assert got[("disk_used_bytes", (("mount", "/"), ("source", "web2")))] == 7.0
    assert got[("monitor_source_up", (("env", "prod"), ("source", "web1")))] == 1.0


def test_a_series_label_named_like_a_static_label_is_exported_not_merged() -> None:
    """A page's own `team` beside the source's static `team: ops` made `m{team="ops"}` and a
    plain `m` the same series twice on /metrics; Prometheus kept one and dropped the other."""
    store = MetricsStore()
    page = {("dup_metric", (("team", "ops"),)): 1.0, ("dup_metric", ()): 2.0}
    add_source(store, "c", page, labels=(("team", "ops"),), specs=SPECS)
    body, _ = render(renderer(store), OPENMETRICS)
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parse_openmetrics(body.decode())  # refuses a series written twice
        for s in family.samples
    }
    assert got[("dup_metric", (("exported_team", "ops"), ("source", "c"), ("team", "ops")))] == 1.0
    assert got[("dup_metric", (("source", "c"), ("team", "ops")))] == 2.0


def test_health_families_per_source() -> None:
    store = MetricsStore()
    health = dataclasses.replace(
        healthy(series=3), errors_total=4, overruns=2, last_duration=0.25, cpu_seconds=1.5, series_dropped=9
    )
    add_source(store, "db", {("x", ()): 1.0}, health=health, collector="tcp")
    got = samples(render(renderer(store))[0])
    source = (("source", "db"),)
    assert got[("monitor_source_up", source)] == 1
    assert got[("monitor_source_stale", source)] == 0
    assert got[("monitor_source_last_success_timestamp_seconds", source)] == NOW
    assert got[("monitor_source_last_collect_duration_seconds", source)] == 0.25
    assert got[("monitor_source_errors_total", source)] == 4
    assert got[("monitor_source_overruns_total", source)] == 2
    assert got[("monitor_source_series", source)] == 3
    assert got[("monitor_source_series_dropped", source)] == 9
    assert got[("monitor_source_poller_cpu_seconds_total", source)] == 1.5
    assert got[("monitor_source_info", (("collector", "tcp"), ("source", "db")))] == 1


def test_types_come_from_specs_and_unspecified_series_are_untyped_with_generic_help() -> None:
    store = MetricsStore()
    add_source(
        store,
        "app",
        {("requests_total", ()): 10.0, ("disk_used_bytes", ()): 1.0, ("mystery", ()): 2.0},
        specs=SPECS,
    )
    body = render(renderer(store))[0]
    assert (
        families(body).items()
        >= {"requests": "counter", "disk_used_bytes": "gauge", "mystery": "unknown"}.items()
    )
    assert "# HELP requests_total Requests served.\n" in body.decode()
    assert "# HELP mystery Reported by collector 'test'" in body.decode()


def test_down_and_stale_sources_keep_health_but_drop_values() -> None:
    store = MetricsStore()
    add_source(store, "down", {("x", ()): 1.0})
    store.publish("down", failed())
    add_source(store, "stale", {("y", ()): 1.0}, health=healthy(now=NOW - 100, stale_after=30))
    add_source(store, "fine", {("z", ()): 1.0})
    got = samples(render(renderer(store))[0])
    names = {name for name, _ in got}
    assert "x" not in names and "y" not in names and "z" in names
    assert got[("monitor_source_up", (("source", "down"),))] == 0
    assert got[("monitor_source_stale", (("source", "stale"),))] == 1
    assert got[("monitor_source_up", (("source", "stale"),))] == 1


def test_a_source_not_yet_collected_has_no_up_so_down_alerts_do_not_fire_at_startup() -> None:
    store = MetricsStore()
    store.add_source("starting", "test", 1.0)
    got = samples(render(renderer(store))[0])
    assert ("monitor_source_up", (("source", "starting"),)) not in got
    assert got[("monitor_source_info", (("collector", "test"), ("source", "starting")))] == 1
    store.publish("starting", failed())
    assert samples(render(renderer(store))[0])[("monitor_source_up", (("source", "starting"),))] == 0


def test_a_source_turning_stale_without_a_publish_loses_its_values_on_the_next_scrape() -> None:
    store = MetricsStore()
    add_source(store, "s", {("y", ()): 1.0})
    clock = [NOW]
    metrics = MetricsRenderer(store.snapshot, clock=lambda: clock[0])
    assert ("y", (("source", "s"),)) in samples(render(metrics)[0])
    clock[0] = NOW + 1000
    assert ("y", (("source", "s"),)) not in samples(render(metrics)[0])


def test_a_down_source_turns_stale_once_its_last_success_is_older_than_its_stale_after() -> None:
    """monitor_source_stale says what its help says whether the source is up or down: a source
    failing for minutes was exported as up 0, stale 0, so `stale` alerts never fired. The
    scrape's cache must notice it too, though nothing was published."""
    store = MetricsStore()
    add_source(store, "s", {("y", ()): 1.0}, health=healthy(stale_after=30))
    store.publish("s", dataclasses.replace(healthy(stale_after=30), up=False, last_attempt=NOW + 10))
    clock = [NOW + 10]
    metrics = MetricsRenderer(store.snapshot, clock=lambda: clock[0])
    source = (("source", "s"),)
    got = samples(render(metrics)[0])
    assert (got[("monitor_source_up", source)], got[("monitor_source_stale", source)]) == (0, 0)
    clock[0] = NOW + 31
    got = samples(render(metrics)[0])
    assert (got[("monitor_source_up", source)], got[("monitor_source_stale", source)]) == (0, 1)
    assert ("y", source) not in got


def test_published_values_are_on_the_very_next_scrape_and_removed_sources_vanish() -> None:
    store = MetricsStore()
    add_source(store, "a", {("v", ()): 1.0})
    add_source(store, "b", {("v", ()): 1.0})
    metrics = renderer(store)
    render(metrics)
    store.publish("a", healthy(series=1), {("v", ()): 2.0})
    got = samples(render(metrics)[0])
    assert got[("v", (("source", "a"),))] == 2.0
    assert got[("v", (("source", "b"),))] == 1.0
    store.remove_source("b")
    body = render(metrics)[0]
    assert 'source="b"' not in body.decode()


def test_a_source_whose_values_cannot_be_encoded_keeps_its_health_and_others_are_unharmed() -> None:
    store = MetricsStore()
    # A label value no collector can normally produce (the validator would refuse it).
    add_source(store, "broken", {("v", (("k", 5),)): 1.0})  # type: ignore[dict-item]
    add_source(store, "fine", {("v", ()): 3.0})
    got = samples(render(renderer(store))[0])
    assert got[("monitor_source_up", (("source", "broken"),))] == 1
    assert got[("v", (("source", "fine"),))] == 3.0
    assert not any(labels == (("k", "5"), ("source", "broken")) for _, labels in got)


def test_openmetrics_is_served_when_asked_for_and_parses() -> None:
    store = MetricsStore()
    add_source(store, "a", {("requests_total", ()): 5.0, ("disk_used_bytes", ()): 1.0}, specs=SPECS)
    body, content_type = render(renderer(store), OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1
    parsed = {f.name: f for f in parse_openmetrics(body.decode())}
    assert parsed["requests"].type == "counter"
    assert parsed["requests"].samples[0].value == 5.0
    assert parsed["disk_used_bytes"].unit == "bytes"
    # monitor's own health families carry their unit too, as the collectors' do.
    assert parsed["monitor_source_poller_cpu_seconds"].unit == "seconds"
    assert parsed["monitor_source_last_collect_duration_seconds"].unit == "seconds"
    assert parsed["monitor_source_errors"].unit == ""


def test_process_and_build_info_metrics_are_included() -> None:
    got = families(render(renderer(MetricsStore()))[0])
    assert got["monitor_build_info"] == "gauge"
    assert got["process_cpu_seconds"] == "counter"


label_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30
) | st.sampled_from(['quote " here', "back\\slash", "new\nline", "ünïcødé ✓ 日本", '\\"\n'])


@settings(max_examples=150, deadline=None)
@given(static=label_values, series=label_values, accept=st.sampled_from([None, OPENMETRICS]))
def test_label_values_round_trip_through_prometheus_client_parsers(static: str, series: str, accept) -> None:
    store = MetricsStore()
    add_source(store, "s", {("v", (("path", series),)): 1.0}, labels=(("site", static),))
    body, _ = render(renderer(store), accept)
    parse = text_string_to_metric_families if accept is None else parse_openmetrics
    parsed = {f.name: f for f in parse(body.decode())}
    assert [s.labels for s in parsed["v"].samples] == [{"site": static, "path": series, "source": "s"}]


def test_many_distinct_accept_headers_keep_a_bounded_cache_and_correct_output() -> None:
    store = MetricsStore()
    add_source(store, "a", {("v", ()): 1.0})
    metrics = renderer(store)
    for minor in range(20):
        body, content_type = render(metrics, f"application/openmetrics-text; version=1.0.{minor}")
        assert f"version=1.0.{minor}" in content_type and body.endswith(b"# EOF\n")
    store.publish("a", healthy(series=1), {("v", ()): 2.0})
    assert samples(render(metrics)[0])[("v", (("source", "a"),))] == 2.0
    assert len(metrics._sources) <= 4
