"""The pure parts of the dashboard: unit formatting, labels, rates, sparklines, panel choice."""

from __future__ import annotations

import math

import pytest

from monitor.humanize import format_age, format_value
from monitor.model import MetricSpec, MetricType, SourceData, SourceHealth, Unit
from monitor.scheduler import Phase, PollerActivity
from monitor.tui import view as v
from monitor.tui.costs import describe
from monitor.tui.detail import nothing_to_draw, sort_rows
from monitor.tui.panel import badge, spark_values, sparkline


@pytest.mark.parametrize(
    ("value", "unit", "rate", "text"),
    [
        (512, Unit.BYTES, False, "512 B"),
        (1536, Unit.BYTES, False, "1.5 KiB"),
        (3.2 * 2**30, Unit.BYTES, False, "3.2 GiB"),
        (2.5 * 2**20, Unit.BYTES, True, "2.5 MiB/s"),
        (0.456, Unit.RATIO, False, "45.6 %"),
        (0.00042, Unit.RATIO, False, "0.04 %"),  # not "0.0 %", which reads as none at all
        (0.0000042, Unit.RATIO, True, "0.0004 %/s"),
        (-0.00042, Unit.RATIO, False, "-0.04 %"),
        (0.00049, Unit.RATIO, False, "0.05 %"),
        (0.00051, Unit.RATIO, False, "0.1 %"),  # one decimal, as before, from where it shows
        (0.0, Unit.RATIO, False, "0.0 %"),
        (-0.0, Unit.RATIO, False, "0.0 %"),
        (1.0, Unit.RATIO, False, "100.0 %"),
        (0.0004, Unit.SECONDS, False, "400 µs"),
        (0.34, Unit.SECONDS, False, "340 ms"),
        (12.34, Unit.SECONDS, False, "12.3 s"),
        (200_000, Unit.SECONDS, False, "2d07h"),
        (0.0, Unit.SECONDS, False, "0 s"),
        (-0.5, Unit.SECONDS, False, "-500 ms"),  # a clock offset, not -500000 µs
        (-120, Unit.SECONDS, False, "-2m00s"),
        (0.9995, Unit.SECONDS, False, "1.0 s"),  # rounds up into seconds, not "1000 ms"
        (0.0009996, Unit.SECONDS, False, "1.0 ms"),
        (0.00412, Unit.SECONDS, False, "4.1 ms"),  # under 10 ms keeps a decimal beside 988 µs
        (45.04, Unit.CELSIUS, False, "45.0 °C"),
        (1200, Unit.RPM, False, "1200 rpm"),
        (212, Unit.NONE, False, "212"),
        (12_345, Unit.NONE, False, "12.3 k"),
        (5, Unit.NONE, True, "5/s"),
        (math.nan, Unit.BYTES, False, "–"),
        (math.inf, Unit.NONE, False, "+Inf"),  # as /metrics spells it; it crashed the dashboard
        (-math.inf, Unit.SECONDS, False, "-Inf"),
        (999.7, Unit.NONE, False, "1 k"),  # rounds up: the next prefix, never "1e+03"
        (999.7e6, Unit.NONE, False, "1 G"),
        (1023.7, Unit.BYTES, False, "1 KiB"),
        (1e-9, Unit.SECONDS, False, "1 ns"),  # not "0 µs"
        (59.97, Unit.SECONDS, False, "1m00s"),  # not "59s"
    ],
)
def test_values_are_formatted_by_unit(value: float, unit: Unit, rate: bool, text: str) -> None:
    assert format_value(value, unit, rate) == text


def test_timestamps_are_shown_as_ages_at_the_collection_time() -> None:
    collected = 1_795_565_951.0
    boot = collected - (3 * 86400 + 4 * 3600)
    assert format_value(boot, Unit.TIMESTAMP, now=collected) == "3d04h ago"
    assert format_value(collected + 90, Unit.TIMESTAMP, now=collected) == "in 1m30s"
    assert format_value(0.0, Unit.TIMESTAMP, now=collected) == "never"
    with pytest.raises(ValueError, match="pass the time"):
        format_value(boot, Unit.TIMESTAMP)


def test_a_hung_source_says_for_how_long_instead_of_promising_a_retry() -> None:
    """It said "down, retrying now" for as long as the collection stayed stuck: no retry can
    come while the poller's one thread is in it."""
    health = SourceHealth(
        up=False,
        last_attempt=1001.1,
        last_error="collection hung: still running past its 1s timeout",
        hung_since=1000.0,
        next_attempt=None,
    )
    hung = badge(SourceData("h", "t", 1.0, (), health, {}), now=1015.0)
    assert (hung.text, hung.error) == ("✖ down, hung for 15s", health.last_error)


def test_a_poller_whose_tick_is_due_is_not_sleeping_until_zero_seconds_from_now() -> None:
    assert describe(PollerActivity(Phase.SLEEPING, 99.0, 100.0), 1.0, now=100.2) == "sleeping, due now"
    assert (
        describe(PollerActivity(Phase.SLEEPING, 99.0, 102.0), 1.0, now=100.0)
        == "sleeping until 2.0s from now"
    )


def test_ages() -> None:
    assert [format_age(s) for s in (0.42, 12, 200, 7500, 90000)] == ["0.4s", "12s", "3m20s", "2h05m", "1d01h"]


def test_short_labels_drop_collector_prefix_and_unit_suffixes() -> None:
    key = ("system_network_received_bytes_total", (("interface", "eth0"),))
    assert v.short_label(key, "system") == "network received eth0"
    assert v.short_label(("http_total", ()), "system") == "http"
    assert v.series_name(key) == 'system_network_received_bytes_total{interface="eth0"}'
    quoted = ("m", (("who", 'say "hi"'), ("path", "C:\\x")))
    assert v.series_name(quoted) == 'm{who="say \\"hi\\"",path="C:\\\\x"}', "escaped as on /metrics"


def test_a_cut_label_keeps_the_label_values_that_tell_rows_apart() -> None:
    """Three rows scraped from another monitor were cut to the same "monitor source last
    success times…": the source each one is about was past the panel's width."""
    name = "monitor_source_last_success_timestamp_seconds"
    data = SourceData(
        "fleet",
        "prometheus",
        1.0,
        (),
        SourceHealth(),
        {(name, (("exported_source", source),)): 1.0 for source in ("flaky", "local", "node")},
    )
    views = v.series_views(data)
    assert [v.fit_label(view.label, view.values, 30) for view in views] == [
        "monitor source last suc… flaky",
        "monitor source last suc… local",
        "monitor source last succ… node",
    ]
    assert v.fit_label("short enough", "", 30) == "short enough"
    assert v.fit_label("abc def xyz", "xyz", 9) == "abc… xyz", "no space left before the …"
    assert [v.fit_label("abc def", "def", w) for w in (-3, 0, 1)] == ["", "", "…"]
    assert v.fit_label("cpu " + "y" * 40, "y" * 40, 20) == "cpu yyyyyyy…yyyyyyyy", "values alone too long"


def test_values_too_long_for_the_row_are_cut_word_by_word_so_rows_still_differ() -> None:
    """Two rows of one fleet query, sources node and nodefull on the same instance, both read
    `fleet load1 n…19815 monitor` when the middle of the whole label was cut."""
    rows = [f"{source} 127.0.0.1:19815 monitor" for source in ("node", "nodefull")]
    assert [v.fit_label(f"fleet load1 {values}", values, 30) for values in rows] == [
        "fleet load1 node 12…815 mo…tor",
        "fleet load1 no…ll 12…15 mo…tor",
    ]


def test_counter_resets_are_gaps_not_rates() -> None:
    rates = v.rates([(0, 10), (1, 15), (3, 25), (4, 2), (5, 4)])
    assert [t for t, _ in rates] == [1, 3, 4, 5] and math.isnan(rates[2][1]), "the reset is a gap"
    assert [rate for _, rate in rates if not math.isnan(rate)] == [5.0, 5.0, 2.0]
    source = SourceData("s", "x", 1.0, (), SourceHealth(), {("c_total", ()): 2.0})
    view = v.SeriesView(("c_total", ()), "c", MetricSpec("c_total", "h", type=MetricType.COUNTER))
    assert math.isnan(v.current(source, view, rates[:3])), "just after a reset: no rate, not the last one"
    assert v.WindowStats.of(rates[:3]).maximum == 5.0


def test_sparklines_scale_ratios_to_0_1_and_other_values_to_their_own_range() -> None:
    """Scaled from 0, memory between 524 and 572 MiB and a load between 0.7 and 1.3 drew as a
    solid bar of ▇ and █: their changes did not show."""
    assert sparkline([0.0, 0.5, 1.0], 10, ratio=True) == "▁▅█"
    assert sparkline([0.30, 0.31, 0.30], 10, ratio=True) == "▃▃▃", "a ratio's height is its value"
    mib = 2**20
    assert sparkline([524 * mib, 548 * mib, 572 * mib], 10, ratio=False) == "▁▅█"
    assert sparkline([0.7, 1.0, 1.3, 1.0], 10, ratio=False) == "▁▅█▅"
    assert sparkline([2.0, 4.0], 10, ratio=False) == "▁█"
    assert sparkline([1, 2, 3, 4], 2, ratio=False) == "▁█", "the scale of the values shown"
    assert sparkline([-3.0, -1.0], 10, ratio=False) == "▁█"
    assert sparkline([], 5, ratio=False) == ""
    assert sparkline([1.0, math.inf, 2.0, -math.inf], 10, ratio=False) == "▁██▁", "infinities set no scale"
    assert sparkline([math.inf, math.inf], 10, ratio=False) == "██"
    assert sparkline([-1e308, 1e308], 10, ratio=False) == "▁█", "no overflow"


def test_nearly_constant_values_draw_a_flat_line_not_their_noise() -> None:
    """A range under FLAT_RANGE of the values' magnitude is not stretched to full height."""
    assert sparkline([212.0] * 5, 10, ratio=False) == "▄" * 5, "constant: a line in the middle"
    assert sparkline([0.0] * 5, 10, ratio=False) == "▁" * 5, "all zero: nothing, the bottom line"
    assert sparkline([1.0, 1.0, math.inf], 10, ratio=False) == "▄▄█"
    uptime = [30_000.0 + t for t in range(24)]  # a steady climb of 24 s in 8 h
    assert sparkline(uptime, 24, ratio=False) == "▄" * 24
    mib = 2**20
    noisy = [550 * mib, 551 * mib, 549 * mib, 552 * mib]  # memory within 3 MiB
    assert sparkline(noisy, 10, ratio=False) == "▄▄▄▄"
    processes = [212.0, 212.0, 214.0, 213.0]  # under 1 %: a step, not the full height
    assert sparkline(processes, 10, ratio=False) == "▃▃▅▄"
    assert sparkline([45.0, 48.0], 10, ratio=False) == "▁█", "over 5 % of the largest value: full height"


def test_sparkline_values_keep_each_collection_in_its_place() -> None:
    """After an outage the sparkline showed only the points since recovery, left-aligned, with
    the blank where now is; jitter must not open gaps."""
    jittered = [(t + (0.2 if t % 2 else -0.2), float(t)) for t in range(30)]
    assert spark_values(jittered, 1.0, 29.0) == tuple(float(t) for t in range(6, 30))
    outage = [(float(t), 1.0) for t in range(10)] + [(float(t), 2.0) for t in range(18, 22)]
    got = spark_values(outage, 1.0, 21.0)
    assert len(got) == 22 and got[:10] == (1.0,) * 10 and all(map(math.isnan, got[10:18]))
    assert got[18:] == (2.0,) * 4
    silent = spark_values([(float(t), 1.0) for t in range(5)], 1.0, 10.0)  # down since t=4
    assert silent[:5] == (1.0,) * 5 and len(silent) == 10 and all(map(math.isnan, silent[5:]))
    assert sparkline(got, 24, ratio=False) == "▁" * 10 + " " * 8 + "█" * 4
    assert sparkline([math.nan, math.nan], 5, ratio=False) == ""


def test_histogram_counts_are_plain_rates_and_only_sums_and_quantiles_have_the_unit() -> None:
    """`request_seconds_count 1000` read as "16m40s", and it never moved: a count of
    observations, growing, shown as a duration."""
    specs = {
        name: MetricSpec(name, "h", Unit.SECONDS, MetricType.HISTOGRAM, family="request_seconds")
        for name in (
            "request_seconds_bucket",
            "request_seconds_count",
            "request_seconds_sum",
            "request_seconds_created",
        )
    }
    specs["rpc_seconds"] = MetricSpec(
        "rpc_seconds", "s", Unit.SECONDS, MetricType.SUMMARY, family="rpc_seconds"
    )
    series = {
        ("request_seconds_bucket", (("le", "0.1"),)): 900.0,
        ("request_seconds_count", ()): 1000.0,
        ("request_seconds_sum", ()): 123.0,
        ("request_seconds_created", ()): 1_795_000_000.0,
        ("rpc_seconds", (("quantile", "0.5"),)): 0.2,
    }
    views = {
        view.key[0]: view
        for view in v.series_views(SourceData("s", "prometheus", 1.0, (), SourceHealth(), series, specs))
    }
    assert {name: (view.unit, view.rate) for name, view in views.items()} == {
        "request_seconds_bucket": (Unit.NONE, True),
        "request_seconds_count": (Unit.NONE, True),
        "request_seconds_sum": (Unit.SECONDS, True),
        "request_seconds_created": (Unit.TIMESTAMP, False),
        "rpc_seconds": (Unit.SECONDS, False),
    }


def source(**specs: MetricSpec) -> SourceData:
    series = {("a_value", ()): 1.0, ("b_total", (("x", "1"),)): 2.0, ("c_other", ()): 3.0}
    return SourceData("s", "t", 1.0, (), SourceHealth(), series, specs)


def test_panel_metrics_prefer_show_then_key_specs_then_everything() -> None:
    keyed = source(b_total=MetricSpec("b_total", "", type=MetricType.COUNTER, key=True))
    assert v.panel_metrics(keyed, ("c_other",)) == ["c_other"]
    assert v.panel_metrics(keyed, None) == ["b_total"]
    assert v.panel_metrics(source(), None) == ["a_value", "b_total", "c_other"]
    views = v.series_views(keyed, ["b_total", "a_value"])
    assert [view.label for view in views] == ["b 1", "a value"]
    assert [view.rate for view in views] == [True, False]


def test_filter_matches_source_or_series_names() -> None:
    data = source()
    views = v.series_views(data)
    assert v.filtered(views, data, "OTHER") == [views[2]]
    assert v.filtered(views, data, "s") == views, "the source name matches: all its series"
    assert v.source_visible(data, 'x="1"')
    assert not v.source_visible(data, "nothing")


def test_labels_that_would_read_the_same_keep_their_unit_suffix() -> None:
    series = {("rnd_bytes", ()): 1.0, ("rnd_seconds", ()): 2.0, ("depth", ()): 3.0}
    data = SourceData("cmd", "command", 1.0, (), SourceHealth(), series)
    assert [view.label for view in v.series_views(data)] == ["depth", "rnd bytes", "rnd seconds"]


def test_label_values_every_series_of_a_metric_shares_are_left_out() -> None:
    """A fleet query's rows differ by instance; its job and name only push that off the panel."""
    shared = (("job", "monitor"), ("name", "payments"))
    data = SourceData(
        "fleet",
        "promql",
        1.0,
        (),
        SourceHealth(),
        {
            ("fleet_up", (("instance", "127.0.0.1:21001"), *shared)): 1.0,
            ("fleet_up", (("instance", "127.0.0.1:21003"), *shared)): 0.0,
            ("fleet_disk_ratio", (("mount", "/"),)): 0.5,
        },
    )
    labels = [view.label for view in v.series_views(data)]
    assert labels == ["fleet disk /", "fleet up 127.0.0.1:21001", "fleet up 127.0.0.1:21003"], (
        "a single series keeps its labels"
    )


def test_label_values_every_series_of_a_source_shares_are_left_out() -> None:
    """The README's fleet source against one host: each query gives one series, and every row
    read `f…et l…d1 local 12…15 mo…or sy…d1`, its job and instance (the same on every row) and
    the rest cut to fit. Labels not on every series (`source`, `mount`) stay."""
    host = (("instance", "127.0.0.1:21815"), ("job", "monitor"))
    data = SourceData(
        "fleet",
        "promql",
        1.0,
        (),
        SourceHealth(),
        {
            ("fleet_load1", (*host, ("name", "system_load1"), ("source", "local"))): 0.3,
            ("fleet_up", (*host, ("name", "up"))): 1.0,
            ("fleet_disk_ratio", (*host, ("mount", "/"))): 0.5,
        },
    )
    labels = [view.label for view in v.series_views(data)]
    assert labels == ["fleet disk /", "fleet load1 system_load1 local", "fleet up up"]
    one = SourceData("one", "promql", 1.0, (), SourceHealth(), {("fleet_up", host): 1.0})
    assert [view.label for view in v.series_views(one)] == ["fleet up 127.0.0.1:21815 monitor"]


def test_a_filter_on_series_picks_among_all_of_a_panels_series() -> None:
    specs = {"node_load1": MetricSpec("node_load1", "Load."), "up": MetricSpec("up", "Up.", key=True)}
    data = SourceData(
        "node", "prometheus", 1.0, (), SourceHealth(), {("node_load1", ()): 0.5, ("up", ()): 1.0}, specs
    )
    assert [view.label for view in v.panel_views(data, None, "")] == ["up"]
    assert [view.label for view in v.panel_views(data, None, "load")] == ["node load1"]
    assert [view.label for view in v.panel_views(data, None, "NODE")] == ["up"], "the source's name matched"


def test_a_series_nothing_declared_is_formatted_by_its_names_unit_suffix() -> None:
    """A `command` printing `backup_size_bytes 1536` read "1.54 k" instead of "1.5 KiB"."""
    view = v.SeriesView(("backup_size_bytes", ()), "backup size", None)
    assert view.unit is Unit.BYTES
    assert v.SeriesView(("backup_age_seconds", ()), "backup age", None).unit is Unit.SECONDS
    assert v.SeriesView(("backups", ()), "backups", None).unit is Unit.NONE


def test_cut_series_names_keep_the_end_where_a_sources_metrics_differ() -> None:
    """At 80 columns the detail table showed received and transmitted as the same
    `system_networ… {interface="eth0"}`, and four disk metrics as `system_disk_… {...}`."""
    names = [f"system_network_{way}_bytes_total" for way in ("receive", "transmit")]
    names += [f"system_disk_{what}_total" for what in ("read_bytes", "reads", "written_bytes", "writes")]
    labels = '{interface="eth0"}'
    for width in (34, 40):  # the name column of an 80- and a 100-column table
        shown = [v.fit_series(name, labels, width, prefix="system_") for name in names]
        assert all(v.cell_len(text) <= width for text in shown), shown
        assert len(set(shown)) == len(names), shown
    assert v.fit_series("system_load1", "", 30, prefix="system_") == "system_load1", "whole when it fits"
    long_labels = '{device="/dev/vda1",fstype="ext4",mount="/"}'
    assert v.fit_series("system_disk_free_ratio", long_labels, 35, prefix="system_") == (
        '…free_ratio {device="/d…,mount="/"}'
    )


def test_every_series_of_a_metric_is_cut_alike() -> None:
    """At 80 columns only the rows too long were cut: `cpu_usage_ratio {cpu="total"}` stood
    next to `system_cpu_usage_ratio{cpu="0"}`."""
    keys = [("system_cpu_usage_ratio", (("cpu", cpu),)) for cpu in ("total", "0", "12")]
    width = len('system_cpu_usage_ratio{cpu="12"}')
    assert v.short_series_names(keys, frozenset(), width, prefix="system_") == [
        'cpu_usage_ratio {cpu="total"}',
        'cpu_usage_ratio {cpu="0"}',
        'cpu_usage_ratio {cpu="12"}',
    ]
    assert v.short_series_names(keys, frozenset(), 40, prefix="system_") == [
        f"system_cpu_usage_ratio{{cpu={cpu!r}}}".replace("'", '"') for cpu in ("total", "0", "12")
    ], "whole when every one fits"
    shared = [("m_long_metric_name", (("cpu", cpu), ("job", "node"))) for cpu in ("total", "0")]
    assert v.short_series_names(shared, frozenset({"job"}), 40, prefix="m_") == [
        'm_long_metric_name{cpu="total"}',
        'm_long_metric_name{cpu="0"}',
    ], "the shared label goes from every row, though one (38 cells) fitted with it"
    narrow = v.short_series_names(keys, frozenset(), 20, prefix="system_")
    assert [name.split(" ")[0] for name in narrow] == ["…ratio"] * 3, narrow
    assert all(v.cell_len(name) <= 20 for name in narrow), narrow


def test_series_are_listed_in_reading_order() -> None:
    """Plain string order listed cores 0, 1, 10 ... 15, 2 and the total after them all."""
    cores = [("cpu", name) for name in ["10", "total", "2", "0", "1", "15"]]
    buckets = [("le", le) for le in ["+Inf", "0.01", "0.005", "1", "0.25", "10"]]
    interfaces = [("interface", name) for name in ["eth10", "wlan0", "eth2"]]
    keys = [(name, ((label, value),)) for name, pairs in (("c", cores), ("b", buckets), ("i", interfaces))
            for label, value in pairs]  # fmt: skip
    data = SourceData("s", "x", 1.0, (), SourceHealth(), dict.fromkeys(keys, 1.0))
    assert [view.values for view in v.series_views(data, ["c", "b", "i"])] == [
        *["total", "0", "1", "2", "10", "15"],
        *["0.005", "0.01", "0.25", "1", "10", "+Inf"],
        *["eth2", "eth10", "wlan0"],
    ]


@pytest.mark.parametrize("reverse", [False, True])
def test_the_detail_sorts_series_in_reading_order(reverse: bool) -> None:
    """Sorted by name, the detail listed cores 0, 1, 10 ... 15, 2 and the total last."""
    views = v.series_views(many_core_host(12), ["system_cpu_usage_ratio"])
    rows = [(view, v.WindowStats.of([])) for view in reversed(views)]
    sort_rows(rows, "series", reverse)
    order = ["total", *map(str, range(12))]
    assert [view.values for view, _ in rows] == (order[::-1] if reverse else order)
    loads = SourceData("n", "prometheus", 1.0, (), SourceHealth(), dict.fromkeys(
        [("node_load15", ()), ("node_load1", ()), ("node_load5", ())], 1.0))  # fmt: skip
    rows = [(view, v.WindowStats.of([])) for view in v.series_views(loads)]
    assert [view.key[0] for view, _ in rows] == ["node_load1", "node_load5", "node_load15"]
    sort_rows(rows, "series", reverse)
    assert [view.key[0] for view, _ in rows][:: -1 if reverse else 1] == [
        "node_load1",
        "node_load5",
        "node_load15",
    ]


def test_a_counter_that_only_falls_is_not_said_to_be_nan() -> None:
    """Each fall of a counter is a reset, so it has no rate: the chart said "every sample is
    NaN" of a counter whose samples were 90, 80, 70."""
    view = v.SeriesView(("c_total", ()), "c", MetricSpec("c_total", "h", type=MetricType.COUNTER))
    history = v.rates([(0, 90.0), (1, 80.0), (2, 70.0)])
    assert nothing_to_draw(view, history, 70.0) == (
        "no rate in this window: the counter went down at every collection (each fall is a reset)"
    )


def many_core_host(cores: int) -> SourceData:
    """The system collector's key metrics on a machine with `cores` cores and three interfaces."""
    names = {
        "system_cpu_usage_ratio": ("cpu", ["total", *map(str, range(cores))]),
        "system_load1": None,
        "system_memory_usage_ratio": None,
        "system_disk_usage_ratio": ("mount", ["/", "/home"]),
        "system_network_received_bytes_total": ("interface", ["eth0", "wlan0", "docker0"]),
    }
    specs = {
        name: MetricSpec(name, "h", labels=(pair[0],) if pair else (), key=True)
        for name, pair in names.items()
    }
    series = {}
    for name, pair in names.items():
        for value in pair[1] if pair else [None]:
            series[(name, ((pair[0], value),) if pair else ())] = 0.5
    return SourceData("local", "system", 1.0, (), SourceHealth(), series, specs)


def test_a_full_panel_gives_every_key_metric_a_row() -> None:
    """On 16 cores the first ten rows were all CPU cores: load, memory, disks and network, key
    metrics too, were never on the panel."""
    views = v.panel_views(many_core_host(16), None, "")
    assert [view.label for view in v.allot(views, 10)] == [
        "cpu usage total", "cpu usage 0", "cpu usage 1",
        "load1", "memory usage", "disk usage /", "disk usage /home",
        "network received docker0", "network received eth0", "network received wlan0",
    ]  # fmt: skip
    assert [view.label for view in v.allot(views, 6)] == [
        "cpu usage total",
        "cpu usage 0",
        "load1",
        "memory usage",
        "disk usage /",
        "network received docker0",
    ]
    assert v.allot(views, 100) == views
