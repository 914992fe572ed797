"""What /metrics cannot write is refused before the store, alone, as a partial error: the
dashboard, `monitor once`, the API and /metrics then show the same series. A label value that
is not UTF-8 (a file name os.listdir() could not decode) made /metrics leave out the whole
source while everything else showed it; a help text or a family declared at collection time
could do the same, or break the whole page; a histogram bucket without a numeric `le` failed
promtool. Names found at collection time that monitor or Prometheus writes itself are
published as `exported_NAME`."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from typing import ClassVar

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import parse_config
from monitor.declarations import InvalidDeclaration, own_shared_names, published_name
from monitor.exporter import MetricsRenderer
from monitor.exporter.render import EXPORT_FAILED, process_registry
from monitor.model import MetricSpec, MetricType, Sample, Snapshot
from monitor.once import collect_once, render_json, render_table
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.registry import Registry
from monitor.store import MetricsStore
from monitor.validation import InvalidSample, SampleValidator
from tests.conftest import require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def ctx() -> CollectContext:
    return CollectContext("s", 1.0, time.monotonic() + 1.0)


class Returns(Collector[CollectorOptions]):
    """Returns `returns`, declaring `declares` first, as a plugin naming metrics at run time."""

    name = "returns"
    dynamic_metrics = True
    returns: ClassVar[list[Sample]] = []
    declares: ClassVar[list[MetricSpec]] = []

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        for spec in type(self).declares:
            ctx.declare(spec)
        return list(type(self).returns)


def collected(
    samples: list[Sample], declares: list[MetricSpec] | None = None
) -> tuple[Snapshot, MetricsStore]:
    """One collection of a `returns` source `ds` through the real poller (as `monitor once`)."""
    Returns.returns, Returns.declares = samples, declares or []
    config = parse_config(
        "sources:\n  - {name: ds, collector: returns}\n", "test.yaml", registry=Registry.of(Returns)
    )
    store = MetricsStore(history=0)
    return collect_once(config, store), store


def metrics(store: MetricsStore, accept: str | None = None) -> str:
    return b"".join(MetricsRenderer(store.snapshot).render(accept)[0]).decode()


def promtool(text: str) -> tuple[int, str]:
    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
    )
    return linted.returncode, linted.stderr


def test_a_label_value_that_is_not_utf8_drops_its_sample_alone_and_every_view_agrees() -> None:
    """The repro: /metrics had no series of the source (and monitor_source_up 1, no partial
    error), while the dashboard, `monitor once` and the API showed both."""
    snapshot, store = collected([Sample("bad_labeled", 1, {"k": "caf\udce9"}), Sample("bad_value", 2)])
    source = snapshot.sources["ds"]
    assert source.health.up
    assert source.health.partial_errors == (
        "bad_labeled{k=\"caf\\xe9\"}: the value of label 'k' is not valid UTF-8, which /metrics and "
        "Prometheus cannot carry (undecodable bytes shown as \\xNN); 1 sample dropped",
    )
    assert dict(source.series) == {("bad_value", ()): 2.0}
    text = metrics(store)
    assert 'bad_value{source="ds"} 2.0\n' in text and "bad_labeled" not in text
    assert EXPORT_FAILED not in text
    table = render_table(snapshot).splitlines()
    assert "   bad_value 2" in table and not any(line.startswith("   bad_labeled") for line in table)
    api = json.loads(render_json(snapshot))
    assert [series["name"] for series in api["sources"]["ds"]["series"]] == ["bad_value"]


def test_each_metric_with_such_values_is_reported_once_naming_its_first_series_and_count() -> None:
    """A glob over a directory of Latin-1 file names gives one such sample per file: one
    partial error per metric and label, not one each (the poller keeps ten)."""
    names = ["caf\udce9", "na\udcefve", "ok"]
    json_surrogate = json.loads('"\\ud800x"')  # a JSON escape Python decodes to a lone surrogate
    snapshot, _ = collected(
        [
            *(Sample("file_size_bytes", 1, {"path": name, "kind": "f"}) for name in names),
            Sample("file_mtime_seconds", 1, {"path": json_surrogate}),
        ]
    )
    source = snapshot.sources["ds"]
    assert dict(source.series) == {
        ("file_size_bytes", (("kind", "f"), ("path", "ok"))): 1.0,
    }
    assert [error.split(": the value")[0] for error in source.health.partial_errors] == [
        'file_size_bytes{kind="f",path="caf\\xe9"}',
        'file_mtime_seconds{path="\\ud800x"}',
    ]
    assert source.health.partial_errors[0].endswith("; 2 samples dropped")


def test_the_series_cache_does_not_let_such_a_value_through_the_next_time() -> None:
    validator = SampleValidator(100)
    for _ in range(2):
        context = ctx()
        samples = [Sample("x", 1, {"k": "caf\udce9"}), Sample("x", 2, {"k": "ok"})]
        series, _ = validator.validate(samples, Returns, context)
        assert series == {("x", (("k", "ok"),)): 2.0} and len(context.errors) == 1


def test_a_collector_held_to_its_declaration_is_refused_such_values_too() -> None:
    class Declared(Returns):
        name = "declared"
        dynamic_metrics = False
        metrics = (MetricSpec("declared_size_bytes", "Size.", labels=("path",)),)

    context = ctx()
    series, _ = SampleValidator(100).validate(
        [Sample("declared_size_bytes", 1, {"path": "caf\udce9"})], Declared, context
    )
    assert series == {} and context.errors[0].startswith('declared_size_bytes{path="caf\\xe9"}: ')


def test_without_a_ctx_to_report_to_such_a_sample_is_an_invalid_sample() -> None:
    with pytest.raises(InvalidSample, match=r'x\{k="caf\\xe9"\}: the value of label'):
        SampleValidator(100).validate([Sample("x", 1, {"k": "caf\udce9"})])


def test_a_help_text_declared_at_collection_time_that_is_not_utf8_is_written_readably() -> None:
    """The help text is written on /metrics too: it made the source's block unwritable."""
    snapshot, store = collected(
        [Sample("dir_files", 3)], [MetricSpec("dir_files", "Files in /srv/caf\udce9.")]
    )
    source = snapshot.sources["ds"]
    assert dict(source.series) == {("dir_files", ()): 3.0}
    [error] = source.health.partial_errors
    assert error.startswith("dir_files: declared with a help text that is not valid UTF-8")
    assert source.specs["dir_files"].help == "Files in /srv/caf\\xe9."
    text = metrics(store)
    assert "# HELP dir_files Files in /srv/caf\\\\xe9.\n" in text and 'dir_files{source="ds"} 3.0' in text


def test_a_help_text_that_is_not_utf8_is_a_declaration_error_in_metrics() -> None:
    with pytest.raises(InvalidDeclaration, match=r"with a help text that is not valid UTF-8, 'caf\\\\xe9'"):

        class Help(Collector[CollectorOptions]):
            name = "help"
            metrics = (MetricSpec("help_files", "caf\udce9"),)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            MetricSpec("jobs_seconds_bucket", "Jobs.", type=MetricType.HISTOGRAM, family="jobs seconds"),
            "with family 'jobs seconds', not a valid metric name",
        ),
        (
            MetricSpec("jobs_seconds_bucket", "Jobs.", type=MetricType.HISTOGRAM, family="rpc_seconds"),
            "in family 'rpc_seconds', whose histogram parts are named rpc_seconds_bucket, ",
        ),
    ],
    ids=["not-a-name", "not-its-family"],
)
def test_a_family_metrics_cannot_write_is_untyped_at_collection_time_and_refused_in_metrics(
    spec: MetricSpec, problem: str
) -> None:
    """A part outside its family failed promtool ("jobs_seconds_bucket no help text"); a
    family that is no name was written as prometheus_client happened to escape it."""
    snapshot, store = collected([Sample(spec.name, 1, {"le": "+Inf"})], [spec])
    source = snapshot.sources["ds"]
    [error] = source.health.partial_errors
    assert error.startswith(f"{spec.name}: declared as a histogram part {problem}")
    assert error.endswith("; exported untyped")
    assert source.specs[spec.name].type is MetricType.UNTYPED
    text = metrics(store, "text/plain")
    assert f"# TYPE {spec.name} untyped\n" in text
    assert promtool(text) == (0, "")
    with pytest.raises(InvalidDeclaration, match=f"declares metric 'jobs_seconds_bucket' {problem}"):

        class Parts(Collector[CollectorOptions]):
            name = "parts"
            metrics = (spec,)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []


HISTOGRAM = MetricSpec("job_seconds_bucket", "Jobs.", type=MetricType.HISTOGRAM, family="job_seconds")
HISTOGRAM_PARTS = [
    HISTOGRAM,
    MetricSpec("job_seconds_count", "Jobs.", type=MetricType.HISTOGRAM, family="job_seconds"),
    MetricSpec("job_seconds_sum", "Jobs.", type=MetricType.HISTOGRAM, family="job_seconds"),
]
SUMMARY_PARTS = [
    MetricSpec("rpc_seconds", "RPCs.", type=MetricType.SUMMARY, family="rpc_seconds"),
    MetricSpec("rpc_seconds_count", "RPCs.", type=MetricType.SUMMARY, family="rpc_seconds"),
]
GOOD_PARTS = [
    Sample("job_seconds_bucket", 1, {"le": "0.5"}),
    Sample("job_seconds_bucket", 2, {"le": "1e3"}),
    Sample("job_seconds_bucket", 3, {"le": "+Inf"}),
    Sample("job_seconds_count", 3),
    Sample("job_seconds_sum", 4),
    Sample("rpc_seconds", 0.1, {"quantile": "0.99"}),
    Sample("rpc_seconds_count", 9),
]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (
            Sample("job_seconds_bucket", 3, {"le": "abc"}),
            'job_seconds_bucket{le="abc"}: its le label is not a number (a bucket\'s le is its upper '
            "bound: a number or +Inf); 1 sample dropped",
        ),
        (Sample("job_seconds_bucket", 3, {"le": "NaN"}), 'job_seconds_bucket{le="NaN"}: its le label'),
        (Sample("job_seconds_bucket", 3, {"le": "1_000"}), 'job_seconds_bucket{le="1_000"}: its le label'),
        (
            Sample("job_seconds_bucket", 3),
            "job_seconds_bucket: a histogram bucket without an le label (its upper bound); 1 sample dropped",
        ),
        (
            Sample("job_seconds_bucket", 3, {"path": "/"}),
            'job_seconds_bucket{path="/"}: a histogram bucket without an le label',
        ),
        (
            Sample("rpc_seconds", 3, {"quantile": "a"}),
            'rpc_seconds{quantile="a"}: its quantile label is not a number from 0 to 1; 1 sample dropped',
        ),
        (Sample("rpc_seconds", 3, {"quantile": "2"}), 'rpc_seconds{quantile="2"}: its quantile label'),
        (
            Sample("rpc_seconds", 3),
            "rpc_seconds: a summary quantile without a quantile label; 1 sample dropped",
        ),
    ],
    ids=[
        "le-abc",
        "le-nan",
        "le-underscore",
        "no-labels",
        "no-le",
        "quantile-a",
        "quantile-2",
        "no-quantile",
    ],
)
def test_a_bucket_or_quantile_without_a_numeric_bound_is_dropped_alone_and_promtool_passes(
    bad: Sample, error: str
) -> None:
    """Accepted before, and promtool then failed the whole page ("expected float as value for
    'le' label"), though the README says it passes."""
    validator = SampleValidator(100)
    for _ in range(2):  # and again, through the caches
        context = ctx()
        for spec in HISTOGRAM_PARTS + SUMMARY_PARTS:
            context.declare(spec)
        series, _ = validator.validate([*GOOD_PARTS, bad], Returns, context)
        assert series == {sample.key: float(sample.value) for sample in GOOD_PARTS}
        [reported] = context.errors
        assert reported.startswith(error)
    _, store = collected([*GOOD_PARTS, bad], HISTOGRAM_PARTS + SUMMARY_PARTS)
    text = metrics(store, "text/plain")
    assert "# TYPE job_seconds histogram\n" in text and "# TYPE rpc_seconds summary\n" in text
    assert promtool(text) == (0, "")


def test_bounds_promtool_reads_are_kept() -> None:
    bounds = ["0", "-1", ".5", "5.", "1e-3", "+1", "+Inf", "-Inf", "inf", "Infinity"]
    samples = [Sample("job_seconds_bucket", 1, {"le": bound, "i": str(i)}) for i, bound in enumerate(bounds)]
    context = ctx()
    context.declare(HISTOGRAM)
    series, _ = SampleValidator(100).validate(samples, Returns, context)
    assert len(series) == len(bounds) and context.errors == []


class Reserved(Returns):
    """Repro A: a dynamic plugin declaring and returning names monitor and Prometheus write."""

    name = "reserved"


RESERVED_SAMPLES = [
    Sample("monitor_source_up", 0),
    Sample("up", 1),
    Sample("process_cpu_seconds_total", 5),
    Sample("scrape_duration_seconds", 0.1),
    Sample("monitor_jobs_seconds_bucket", 1, {"le": "+Inf"}),
    Sample("monitor_jobs_seconds_count", 1),
    Sample("monitor_jobs_seconds_sum", 0.5),
    Sample("ds_value", 1),
]
RESERVED_SPECS = [
    MetricSpec("monitor_source_up", "Mine."),
    MetricSpec("up", "Mine."),
    MetricSpec("process_cpu_seconds_total", "Mine."),  # a gauge named _total: untyped, see ctx.declare
    *(
        MetricSpec(
            f"monitor_jobs_seconds{part}", "Jobs.", type=MetricType.HISTOGRAM, family="monitor_jobs_seconds"
        )
        for part in ("_bucket", "_count", "_sum")
    ),
]


def test_names_monitor_or_prometheus_write_are_published_as_exported_names_with_their_specs() -> None:
    """/metrics had `monitor_source_up{source="ds"} 1.0` then `...{source="ds"} 0.0` (a series
    twice), and monitor's own process_cpu_seconds_total untyped."""
    snapshot, store = collected(RESERVED_SAMPLES, RESERVED_SPECS)
    source = snapshot.sources["ds"]
    assert sorted(name for name, _ in source.series) == [
        "ds_value",
        "exported_monitor_jobs_seconds_bucket",
        "exported_monitor_jobs_seconds_count",
        "exported_monitor_jobs_seconds_sum",
        "exported_monitor_source_up",
        "exported_process_cpu_seconds_total",
        "exported_scrape_duration_seconds",
        "exported_up",
    ]
    assert source.specs["exported_monitor_jobs_seconds_bucket"].family == "exported_monitor_jobs_seconds"
    assert source.specs["exported_monitor_source_up"].help == "Mine."
    assert not {"monitor_source_up", "up", "process_cpu_seconds_total"} & source.specs.keys()
    # The gauge named _total is reported by ctx.declare(); the renames are not errors.
    assert [error.split(":")[0] for error in source.health.partial_errors] == ["process_cpu_seconds_total"]
    for accept, parse in ((None, text_string_to_metric_families), (OPENMETRICS, parse_openmetrics)):
        text = metrics(store, accept)
        families = {family.name: family for family in parse(text)}
        assert [s.labels for s in families["monitor_source_up"].samples] == [{"source": "ds"}]
        assert families["process_cpu_seconds"].type == "counter"
        assert {s.labels.get("source") for s in families["process_cpu_seconds"].samples} == {None}
        assert families["exported_monitor_jobs_seconds"].type == "histogram"
        assert families["exported_up"].samples[0].labels == {"source": "ds"}
    assert promtool(metrics(store, "text/plain")) == (0, "")


def test_process_and_python_names_of_monitors_own_type_are_kept_and_join_its_families() -> None:
    """What nearly every scraped service exposes about itself: kept, as before."""
    specs = [
        MetricSpec("process_cpu_seconds_total", "CPU.", type=MetricType.COUNTER),
        MetricSpec("process_open_fds", "Open files."),
        MetricSpec("python_info", "Python.", labels=("version",)),
        MetricSpec("process_network_receive_bytes_total", "Received.", type=MetricType.COUNTER),
    ]
    samples = [
        Sample("process_cpu_seconds_total", 5),
        Sample("process_open_fds", 9),
        Sample("python_info", 1, {"version": "3.12"}),
        Sample("process_network_receive_bytes_total", 10),
        Sample("process_max_fds", 1024),  # no spec: untyped, unlike monitor's own gauge
    ]
    snapshot, store = collected(samples, specs)
    assert sorted(name for name, _ in snapshot.sources["ds"].series) == [
        "exported_process_max_fds",
        "process_cpu_seconds_total",
        "process_network_receive_bytes_total",
        "process_open_fds",
        "python_info",
    ]
    text = metrics(store, "text/plain")
    assert text.count("# TYPE process_cpu_seconds_total counter\n") == 1
    assert 'process_cpu_seconds_total{source="ds"} 5.0\n' in text
    assert text.count("# TYPE process_max_fds gauge\n") == 1
    assert '\nprocess_max_fds{source="ds"}' not in text and '\nexported_process_max_fds{source="ds"}' in text
    assert promtool(text) == (0, "")
    families = {family.name: family for family in parse_openmetrics(metrics(store, OPENMETRICS))}
    assert families["process_cpu_seconds"].type == "counter"
    assert families["process_open_fds"].type == "gauge"


def test_every_process_and_python_family_monitor_writes_is_one_a_run_time_name_is_checked_against() -> None:
    own = own_shared_names()
    for family in process_registry().collect():
        if family.name.startswith("monitor_"):
            continue
        for sample in family.samples:
            assert sample.name in own, sample.name
            kind = MetricType(family.type)
            spec = MetricSpec(sample.name, "", type=kind)
            assert published_name(sample.name, spec) == sample.name
            other = MetricType.GAUGE if kind is MetricType.COUNTER else MetricType.COUNTER
            renamed = published_name(sample.name, MetricSpec(sample.name, "", type=other))
            assert renamed == "exported_" + sample.name
        assert published_name(family.name + "_created", None).startswith("exported_") or (
            family.type == "gauge"
        )


def test_a_name_declared_again_as_another_type_is_checked_against_it_from_the_next_collection() -> None:
    """What is decided per name (kept or renamed, a bucket or not) is cached: a page that
    changes a family's `# TYPE` must not keep the old decision for good. The decision is made
    again from the collection after the one that declared the new type (specs come with the
    samples, so the one declaring it was already checked)."""
    validator = SampleValidator(100)
    untyped = [MetricSpec("job_seconds_bucket", "Jobs.", type=MetricType.UNTYPED)]
    samples = [Sample("job_seconds_bucket", 1, {"le": "abc"}), Sample("process_open_fds", 3)]

    def collect(specs: list[MetricSpec]) -> tuple[set[str], list[str]]:
        context = ctx()
        for spec in specs:
            context.declare(spec)
        series, _ = validator.validate(samples, Returns, context)
        return {name for name, _ in series}, context.errors

    gauge = MetricSpec("process_open_fds", "Open files.")
    assert collect([*untyped, gauge]) == ({"job_seconds_bucket", "process_open_fds"}, [])
    changed = [HISTOGRAM, MetricSpec("process_open_fds", "Open files.", type=MetricType.UNTYPED)]
    collect(changed)
    names, errors = collect(changed)
    assert names == {"exported_process_open_fds"}
    assert [error.split(":")[0] for error in errors] == ['job_seconds_bucket{le="abc"}']
