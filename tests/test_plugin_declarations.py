"""A collector is held to what it declares: a gauge named `..._total` is a plugin error at
load time, and samples with a name or label its declaration lacks are dropped and reported."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client import generate_latest

from monitor.config import parse_config
from monitor.declarations import InvalidDeclaration, check_declared_metrics, reserved_name_problem
from monitor.exporter import MetricsRenderer
from monitor.exporter.families import SourceCollector, health_families
from monitor.exporter.render import process_registry
from monitor.model import MetricSpec, MetricType, Sample, SourceData, SourceHealth, SourceState, Unit
from monitor.once import collect_once
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.registry import ENTRY_POINT_GROUP, PluginLoadError, Registry
from monitor.store import MetricsStore
from monitor.validation import SampleValidator
from tests.conftest import require_binary

FIX = "declare type=MetricType.COUNTER, or drop the _total suffix"


def ctx() -> CollectContext:
    return CollectContext("s", 1.0, time.monotonic() + 1.0)


@pytest.mark.parametrize("kind", [MetricType.GAUGE, MetricType.UNTYPED])
def test_a_total_suffix_on_a_non_counter_is_rejected_naming_the_metric_and_the_fix(kind) -> None:
    with pytest.raises(InvalidDeclaration) as caught:

        class DirStats(Collector[CollectorOptions]):
            name = "dirstats"
            metrics = (MetricSpec("dirstats_scans_total", "Scans.", type=kind),)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []

    message = str(caught.value)
    assert "collector 'dirstats' declares metric 'dirstats_scans_total'" in message
    assert message.endswith(FIX)


def test_counters_and_plain_gauges_are_accepted() -> None:
    check_declared_metrics(
        "ok",
        (
            MetricSpec("ok_scans_total", "Scans.", type=MetricType.COUNTER),
            MetricSpec("ok_scans", "Scans."),
            MetricSpec("ok_depth", "Depth.", labels=("queue",)),
        ),
    )
    with pytest.raises(InvalidDeclaration, match="not a valid metric name"):
        check_declared_metrics("bad", (MetricSpec("bad name", "x"),))
    with pytest.raises(InvalidDeclaration, match="reserved label 'source'"):
        check_declared_metrics("bad", (MetricSpec("bad_depth", "x", labels=("source",)),))
    twice = (MetricSpec("bad_a", "first"), MetricSpec("bad_a", "second", Unit.BYTES, labels=("x",)))
    with pytest.raises(InvalidDeclaration, match="declares metric 'bad_a' twice: declare each metric once"):
        check_declared_metrics("bad", twice)  # the second won at run time, unseen


@pytest.mark.parametrize("name", ["bad name", "9lives", "bad-name", "1job:rate"])
def test_an_invalid_metric_name_is_refused_with_the_rule_declarations_follow(name: str) -> None:
    """The message gave `[a-zA-Z_:][a-zA-Z0-9_:]*`, a rule with the ':' that a declaration may not
    have (promtool rejects it): its author fixed the name to one with a colon, and was refused
    again."""
    with pytest.raises(InvalidDeclaration) as caught:
        check_declared_metrics("bad", (MetricSpec(name, "x"),))
    assert str(caught.value) == (
        f"collector 'bad' declares metric {name!r}: not a valid metric name ([a-zA-Z_][a-zA-Z0-9_]*)"
    )


def test_a_label_declared_twice_is_refused_when_the_class_is_created() -> None:
    """labels=("queue", "queue") was accepted, and `monitor collectors` listed the label twice:
    usually a typo for two labels, the second of which then dropped every sample carrying it."""
    with pytest.raises(InvalidDeclaration) as caught:

        class Queues(Collector[CollectorOptions]):
            name = "queues"
            metrics = (MetricSpec("queues_depth", "Jobs waiting.", labels=("queue", "queue")),)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []

    assert str(caught.value) == (
        "collector 'queues' declares metric 'queues_depth' with the label 'queue' twice in "
        "labels=('queue', 'queue'): name each label once"
    )


@pytest.mark.parametrize(
    ("metric", "kind"),
    [
        ("monitor_source_up", MetricType.GAUGE),
        ("process_cpu_seconds_total", MetricType.COUNTER),
        ("python_info", MetricType.GAUGE),
        ("up", MetricType.GAUGE),
    ],
)
def test_a_name_monitor_or_prometheus_writes_itself_is_rejected_naming_the_fix(metric, kind) -> None:
    """A plugin's `monitor_source_up` put a second `monitor_source_up{source="d"}` on /metrics,
    and its `process_cpu_seconds_total` or `python_info` replaced the HELP of monitor's own."""
    with pytest.raises(InvalidDeclaration) as caught:

        class Shadow(Collector[CollectorOptions]):
            name = "shadow"
            metrics = (MetricSpec(metric, "Mine.", type=kind),)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []

    message = str(caught.value)
    assert message.startswith(
        f"collector 'shadow' declares metric {metric!r}, a name monitor or Prometheus writes itself: "
    )
    assert re.search(r"; name it after your collector \(shadow_\w+\)$", message)


def test_every_family_monitor_writes_itself_is_a_name_no_collector_may_declare() -> None:
    """The process, Python and build families, every source's health families, and those the
    exporter's other collectors (alerts, reload) build: all covered, today's and future ones."""
    written = {sample.name for family in process_registry().collect() for sample in family.samples}
    source = SourceData("s", "system", 10.0, (), SourceHealth(up=True, last_attempt=1.0))
    written |= {family.name for family in health_families(source, SourceState.UP)}
    package = Path(__file__).parent.parent / "monitor"
    for module in package.rglob("*.py"):
        written |= set(re.findall(r'\bMetric\(\s*"(\w+)"', module.read_text()))
    assert {"monitor_source_up", "monitor_alert_state", "python_info", "process_cpu_seconds_total"} <= written
    assert [name for name in sorted(written) if reserved_name_problem(name) is None] == []


LINTED = [
    (MetricSpec("jobs_count", "Jobs."), "as gauge with a _count suffix", "jobs"),
    (MetricSpec("jobs_sum", "Jobs."), "as gauge with a _sum suffix", "jobs"),
    (MetricSpec("jobs_bucket", "Jobs."), "as gauge with a _bucket suffix", "jobs"),
    (MetricSpec("jobs_count", "Jobs.", type="untyped"), "as untyped with a _count suffix", "jobs"),
    (MetricSpec("job:queue:depth", "Jobs."), "with a ':'", "job_queue_depth"),
]


@pytest.mark.parametrize(("spec", "problem", "fix"), LINTED, ids=lambda v: getattr(v, "name", None))
def test_a_name_promtool_rejects_is_rejected_at_declaration_naming_a_fix(spec, problem, fix) -> None:
    """They were accepted, and /metrics then failed `promtool check metrics` ("non-histogram
    metrics should not have "_bucket" suffix", "metric names should not contain ':'")."""
    with pytest.raises(InvalidDeclaration) as caught:

        class Linted(Collector[CollectorOptions]):
            name = "linted"
            metrics = (spec,)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []

    message = str(caught.value)
    assert message.startswith(f"collector 'linted' declares metric {spec.name!r} {problem}")
    assert f"({fix})" in message


def exposition(*specs: MetricSpec) -> str:
    """What /metrics writes for a source with one series of each of these metrics."""
    source = SourceData(
        "s",
        "linted",
        10.0,
        (),
        SourceHealth(up=True, last_attempt=1.0, last_success=1.0),
        series={(spec.name, ()): 1.0 for spec in specs},
        specs={spec.name: spec for spec in specs},
    )
    return generate_latest(SourceCollector(source, SourceState.UP)).decode()


def test_the_names_refused_are_those_promtool_rejects_and_the_fixes_pass_it() -> None:
    """The rule follows promtool: every gauge refused fails its lint, and the names the errors
    suggest instead pass it."""
    promtool = require_binary("promtool")
    refused = [spec for spec, _, _ in LINTED if spec.type is MetricType.GAUGE]
    linted = subprocess.run(
        [promtool, "check", "metrics"], input=exposition(*refused), capture_output=True, text=True
    )
    assert linted.returncode != 0
    assert sorted({line.split(" ")[0] for line in linted.stderr.splitlines()}) == sorted(
        spec.name for spec in refused
    )
    fixed = [MetricSpec(fix, "Jobs.") for fix in {fix for _, _, fix in LINTED}]
    fixed.append(MetricSpec("jobs_total", "Jobs.", type=MetricType.COUNTER))
    clean = subprocess.run(
        [promtool, "check", "metrics"], input=exposition(*fixed), capture_output=True, text=True
    )
    assert (clean.returncode, clean.stderr) == (0, "")


@pytest.mark.parametrize(
    ("declared", "error"),
    [
        (
            MetricSpec("slip_up", "Up."),  # `(MetricSpec(...))`: parentheses, no tuple
            "metrics = MetricSpec('slip_up', ...) is one MetricSpec, not a tuple "
            "of them: a tuple of one needs a trailing comma, metrics = (MetricSpec(...),)",
        ),
        (
            ("slip_up",),
            "metrics[0] is a str, 'slip_up', not a MetricSpec: declare each metric "
            "as MetricSpec('slip_up', 'What it measures.')",
        ),
        (
            None,
            "metrics = None, not a tuple of MetricSpec: write "
            "metrics = (MetricSpec(name, help), ...), or metrics = () for none",
        ),
    ],
    ids=["one-spec-without-comma", "a-name", "none"],
)
def test_metrics_that_are_not_a_tuple_of_specs_are_a_declaration_error_naming_the_fix(
    declared, error
) -> None:
    """They failed with "'MetricSpec' object is not iterable" and "'str' object has no attribute
    'name'", naming neither the collector nor `metrics`."""
    with pytest.raises(InvalidDeclaration) as caught:

        class Slip(Collector[CollectorOptions]):
            name = "slip"
            metrics = declared

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []

    assert re.fullmatch(r"collector 'slip' \([\w.<>]*Slip\): (.*)", str(caught.value))[1] == error


def test_a_list_of_specs_is_taken_as_a_tuple() -> None:
    class Listed(Collector[CollectorOptions]):
        name = "listed"
        metrics = [MetricSpec("listed_up", "Up.")]  # type: ignore[assignment]  # noqa: RUF012

        def collect(self, ctx: CollectContext) -> list[Sample]:
            return []

    assert Listed.metrics == (MetricSpec("listed_up", "Up."),)


def test_every_builtin_the_example_and_the_fault_plugins_pass_the_check() -> None:
    registry = Registry.discover()
    names = [
        name
        for name, point in registry.entry_points.items()
        if point.value.split(".")[0].split(":")[0] in ("collectors", "monitor_example", "monitor_faults")
    ]
    assert {"system", "command", "files", "fault_raise"} <= set(names)
    for name in names:
        collector = registry.load(name)
        check_declared_metrics(collector.name, collector.metrics)


def test_a_plugin_declaring_a_total_gauge_disables_only_its_sources(tmp_path, monkeypatch) -> None:
    (tmp_path / "dirstats_plugin.py").write_text(
        textwrap.dedent(
            """
            from monitor.model import MetricSpec
            from monitor.plugin import Collector, CollectorOptions

            class DirStats(Collector[CollectorOptions]):
                name = "dirstats"
                metrics = (MetricSpec("dirstats_scans_total", "Scans."),)

                def collect(self, ctx):
                    return []
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dirstats_plugin", raising=False)
    registry = Registry.discover()
    registry.entry_points["dirstats"] = EntryPoint("dirstats", "dirstats_plugin:DirStats", ENTRY_POINT_GROUP)
    config = parse_config(
        "sources:\n  - {name: ok, collector: system}\n  - {name: bad, collector: dirstats}\n",
        registry=registry,
    )
    with pytest.raises(PluginLoadError, match=r"InvalidDeclaration: .*'dirstats_scans_total'"):
        registry.load("dirstats")
    sources = collect_once(config).sources
    assert sources["ok"].health.up and not sources["bad"].health.up
    error = sources["bad"].health.last_error
    assert "collector plugin 'dirstats' failed to import" in error
    assert error.endswith(f"{FIX} (dirstats_plugin.py:5)")  # the class statement


class Declared(Collector[CollectorOptions]):
    name = "declared"
    metrics = (MetricSpec("queue_depth", "Depth.", labels=("queue",)), MetricSpec("queue_up", "Up."))
    returns: ClassVar[list[Sample]] = []

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        if any(s.name == "late_value" for s in self.returns):
            ctx.declare(MetricSpec("late_value", "Declared at collection time."))
        yield from self.returns


class Dynamic(Declared):
    name = "dynamic"
    dynamic_metrics = True


def collect_with(collector: type[Collector], samples: list[Sample]) -> tuple[dict, list[str]]:
    collector.returns = samples  # type: ignore[attr-defined]
    instance = collector(CollectorOptions(), None)  # type: ignore[arg-type]
    context = ctx()
    validator = SampleValidator(100)
    series, dropped = validator.validate(instance.collect(context), type(instance), context)
    assert dropped == 0
    again, _ = validator.validate(
        instance.collect(context), type(instance), context
    )  # the cached path drops them too
    assert again == series
    return series, context.errors


def test_undeclared_names_and_labels_are_dropped_and_reported_once_per_collection() -> None:
    series, errors = collect_with(
        Declared,
        [
            Sample("queue_depth", 3, {"queue": "a"}),
            Sample("queue_depth", 4, {"queue": "b", "shard": "1"}),
            Sample("queue_up", 1),
            Sample("queue_lag", 1),
            Sample("queue_lag", 2, {"queue": "a"}),
            Sample("late_value", 5),
        ],
    )
    assert series == {("queue_depth", (("queue", "a"),)): 3.0, ("queue_up", ()): 1.0, ("late_value", ()): 5.0}
    assert (
        errors
        == [
            "queue_depth: label 'shard' is not one its spec declares (labels: queue); 1 sample dropped",
            "queue_lag: not a metric collector 'declared' declares; 2 samples dropped "
            "(declare it in the collector's `metrics` or with ctx.declare())",
        ]
        * 2
    )


def test_collectors_naming_metrics_at_run_time_accept_any_valid_name() -> None:
    samples = [Sample("queue_lag", 1), Sample("queue_depth", 2, {"shard": "1"})]
    series, errors = collect_with(Dynamic, samples)
    assert len(series) == 2 and errors == []


def test_a_broken_sample_is_still_an_error_when_its_name_is_undeclared() -> None:
    with pytest.raises(Exception, match="reserved label 'source'"):
        collect_with(Declared, [Sample("queue_lag", 1, {"source": "x"})])


def test_a_series_given_several_times_keeps_its_last_value_and_is_reported() -> None:
    """A plugin yielding a series twice lost the first value without a word. Three are named,
    the rest counted, so other partial errors keep their room."""
    samples = [Sample("queue_depth", value, {"queue": name}) for value in (1, 2) for name in "abcde"]
    context = ctx()
    series, dropped = SampleValidator(100).validate(samples, Dynamic, context)
    assert dropped == 0 and series[("queue_depth", (("queue", "e"),))] == 2.0 and len(series) == 5
    assert context.errors == [
        *(
            f'queue_depth{{queue="{name}"}}: 2 values in one collection; the last one is kept'
            for name in "abc"
        ),
        "2 more series given several values; the last value of each is kept",
    ]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (MetricSpec("ctr_hits", "Hits.", type=MetricType.COUNTER), "a counter's name must end in _total"),
        (MetricSpec("dyn_total", "Gauge."), "as gauge with a _total suffix"),
        (MetricSpec("pg_stat_activity_count", "Gauge."), "as gauge with a _count suffix"),
        (MetricSpec("disk_io_sum", "Gauge."), "as gauge with a _sum suffix"),
        (MetricSpec("queue_bucket", "Gauge."), "as gauge with a _bucket suffix"),
        (
            MetricSpec("jobs_seconds_bucket", "Jobs.", type=MetricType.HISTOGRAM),
            "as a histogram part without `family`",
        ),
    ],
    ids=[
        "counter-without-total",
        "gauge-with-total",
        "gauge-with-count",
        "gauge-with-sum",
        "gauge-with-bucket",
        "histogram-part-without-family",
    ],
)
def test_a_metric_declared_at_collection_time_is_held_to_the_suffix_rule(
    spec: MetricSpec, problem: str
) -> None:
    """ctx.declare() took what `metrics` refuses: a counter `ctr_hits` reached /metrics as
    `ctr_hits_total` while `monitor rules` wrote `ctr_hits{...} > 0` (a rule that never fires),
    and a gauge `dyn_total` failed promtool. Such a spec is kept untyped, exported under its own
    name, and the collection says why."""
    context = ctx()
    context.declare(spec)
    assert context.declared[spec.name].type is MetricType.UNTYPED
    assert context.declared[spec.name].help == spec.help
    [error] = context.errors
    assert (
        error.startswith(f"{spec.name}: declared ")
        and problem in error
        and error.endswith("; exported untyped")
    )
    good = ctx()
    good.declare(MetricSpec("ctr_hits_total", "Hits.", type=MetricType.COUNTER))
    # Untyped, which promtool accepts whatever the name, and a histogram's or summary's parts.
    good.declare(MetricSpec("pg_stat_activity_count", "Connections.", type=MetricType.UNTYPED))
    good.declare(MetricSpec("rpc_seconds_count", "RPCs.", type=MetricType.SUMMARY, family="rpc_seconds"))
    assert good.errors == [] and good.declared["ctr_hits_total"].type is MetricType.COUNTER
    assert good.declared["rpc_seconds_count"].type is MetricType.SUMMARY


class DeclaresGauges(Collector[CollectorOptions]):
    """Declares, at collection time, gauges named as it found them: postgres_exporter-like."""

    name = "pgwatch"
    dynamic_metrics = True

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        for name in ("pg_stat_activity_count", "pg_xact_sum", "pg_size_bucket", "pg_up"):
            ctx.declare(MetricSpec(name, f"{name} as the database says."))
            yield Sample(name, 3)


def test_gauges_declared_at_collection_time_with_a_part_suffix_pass_promtool_on_metrics() -> None:
    """ctx.declare() took a gauge `pg_stat_activity_count`, and /metrics then failed `promtool
    check metrics` ("non-histogram and non-summary metrics should not have "_count" suffix")."""
    config = parse_config(
        "sources:\n  - {name: pg, collector: pgwatch}\n", "test.yaml", registry=Registry.of(DeclaresGauges)
    )
    store = MetricsStore(history=0)
    health = collect_once(config, store).sources["pg"].health
    assert health.up
    assert [error.split(":")[0] for error in health.partial_errors] == [
        "pg_stat_activity_count",
        "pg_xact_sum",
        "pg_size_bucket",
    ]
    assert all(error.endswith("; exported untyped") for error in health.partial_errors)
    text = b"".join(MetricsRenderer(store.snapshot).render("text/plain")[0]).decode()
    assert "# TYPE pg_stat_activity_count untyped\n" in text and "# TYPE pg_up gauge\n" in text
    linted = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert (linted.returncode, linted.stderr) == (0, "")


def test_every_metric_a_built_in_collector_declares_passes_promtool() -> None:
    """`tcp_tls_cert_expiry_days` failed it ("use base unit "seconds" instead of "days""), so
    /metrics of a config with a TLS check failed `promtool check metrics`."""
    promtool = require_binary("promtool")
    registry = Registry.discover()
    specs = [
        spec
        for name in ("system", "http", "prometheus", "promql", "command", "tcp")
        for spec in registry.load(name).metrics
    ]
    linted = subprocess.run(
        [promtool, "check", "metrics"], input=exposition(*specs), capture_output=True, text=True
    )
    assert (linted.returncode, linted.stderr) == (0, "")


def test_a_histogram_or_summary_part_without_family_is_a_declaration_error() -> None:
    """/metrics wrote such a part as a lone gauge: promtool failed it ("non-histogram metrics
    should not have "_bucket" suffix") and histogram_quantile() found no histogram."""
    with pytest.raises(InvalidDeclaration) as caught:

        class Parts(Collector[CollectorOptions]):
            name = "parts"
            metrics = (MetricSpec("jobs_seconds_bucket", "Jobs.", type=MetricType.HISTOGRAM, labels=("le",)),)

            def collect(self, ctx: CollectContext) -> list[Sample]:
                return []

    assert "declares metric 'jobs_seconds_bucket' as a histogram part without `family`" in str(caught.value)
    assert "family='jobs_seconds'" in str(caught.value)
