"""The dashboard's side of alerts: threshold colours, the alert bar, the history screen and
the bell, in Pilot tests and an SVG snapshot (frozen clock, no blinking)."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from textual.widgets import DataTable

from monitor.alerts.definitions import AlertSettings, ThresholdSettings
from monitor.alerts.engine import AlertEngine
from monitor.alerts.state import AlertsView
from monitor.tui.alerthistory import AlertHistoryScreen
from monitor.tui.app import MonitorApp
from monitor.tui.panel import SourcePanel
from tests.tui.dashboard_support import footer_row, make_app
from tests.tui.feed import Clock, feed, publish_every_second

THRESHOLDS = {
    "host": {
        "host_disk_usage_ratio": ThresholdSettings(warning=0.8, critical=0.9),
        "host_memory_used_bytes": ThresholdSettings(warning=2 * 2**30, critical=8 * 2**30),
    },
    "web": {"http_response_seconds": ThresholdSettings(warning=0.01)},
}
RULES = [
    {"name": "CacheStale", "source": "cache", "condition": "stale", "for": "5m", "severity": "info"},
    {"name": "WebDown", "source": "web", "condition": "down", "severity": "warning"},
    {
        "name": "DiskFull",
        "source": "host",
        "metric": "host_disk_usage_ratio",
        "op": ">",
        "threshold": 0.9,
        "severity": "critical",
        "summary": "{{ labels.mount }} at {{ value }}",
    },
    {"name": "Busy", "source": "host", "metric": "host_cpu_usage_ratio", "op": ">", "threshold": 0.99},
]


@pytest.fixture(autouse=True)
def utc() -> None:
    """History times are local clock times: pin the zone so the snapshot is the same anywhere."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = saved
    time.tzset()


def alerting_app(rules: list[dict] = RULES, **options) -> tuple[MonitorApp, AlertEngine, Clock]:
    clock = Clock()
    store = feed(clock)
    engine = AlertEngine([AlertSettings.model_validate(rule) for rule in rules])
    engine.evaluate(store.snapshot(), clock())
    app = make_app(store, clock, thresholds=THRESHOLDS, alerts=lambda: engine.view, **options)
    return app, engine, clock


def bar_lines(app: MonitorApp) -> list[str]:
    bar = app.screen.alert_bar
    return str(bar.render()).splitlines() if bar.display else []


async def test_alert_bar_lists_firing_most_severe_first_then_pending_and_panels_take_colours() -> None:
    app, _, _ = alerting_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lines = bar_lines(app)
        assert [line.split(": ")[0] for line in lines] == [
            "▲ FIRING CRITICAL DiskFull for 0.0s",
            "▲ FIRING WARNING WebDown for 0.0s",
            "△ pending info CacheStale for 0.0s",
        ]
        assert lines[0].split(": ", 1)[1] == "/ at 93.0 %"  # as the panel shows the ratio
        panels = {panel.source_name: panel for panel in app.screen.query(SourcePanel)}
        assert panels["host"].has_class("-critical")  # disk over its critical threshold, DiskFull firing
        assert panels["web"].has_class("-warning") and panels["web"].has_class("-down")
        assert not panels["cache"].has_class("-warning") and not panels["cache"].has_class("-critical")
        rows = {row.label: row for row in panels["host"].view.rows}
        assert (
            rows["disk usage /"].style == "$text-error bold"
            and rows["disk usage /home"].style == "$text-success"
        )
        assert rows["memory used"].style == "$text-warning"  # 3.2 GiB: over its 2 GiB warning


async def test_on_a_short_terminal_the_bar_keeps_to_one_row_per_alert_and_two_alerts() -> None:
    """At 80x24 a 700-character summary took six rows, and four alerts more: the detail chart
    was left two or three."""
    long = [dict(rule, summary="disk full " * 70) if rule["name"] == "DiskFull" else rule for rule in RULES]
    app, _, _ = alerting_app(long)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = bar_lines(app)
        assert [line.split(": ")[0] for line in lines[:2]] == [
            "▲ FIRING CRITICAL DiskFull for 0.0s",
            "▲ FIRING WARNING WebDown for 0.0s",
        ]
        assert lines[2] == "+1 more: a for all alerts" and len(lines) == 3
        assert app.screen.alert_bar.size.height == 3  # no line wrapped


def drawn_bar_rows(app: MonitorApp) -> list[str]:
    """The bar's rows as the terminal shows them, cut to its width."""
    bar = app.screen.alert_bar.region
    strips = app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strips[y]).strip() for y in range(bar.y, bar.bottom)]


@pytest.mark.parametrize("width", [80, 120])
async def test_a_long_summary_is_cut_and_how_long_the_alert_has_fired_stays_on_its_row(width: int) -> None:
    """`▲ FIRING WARNING WebDown: a very long summary that goes on and on to see how …`: the
    summary pushed `firing for 1m` off the row, at 80 columns and, for a long one, at 120."""
    summary = "a very long summary that goes on and on to see how far it goes " * 3
    rules = [dict(rule, summary=summary) if rule["name"] == "WebDown" else rule for rule in RULES]
    app, engine, clock = alerting_app(rules)
    async with app.run_test(size=(width, 40)) as pilot:
        clock.now += 60
        engine.evaluate(app.store.snapshot(), clock())
        app.tick()
        await pilot.pause()
        [row] = [row for row in drawn_bar_rows(app) if "WebDown" in row]
        assert row.startswith("▲ FIRING WARNING WebDown for 1m00s: a very long summary that goes on"), row
        assert row.endswith("…"), row


async def test_the_bar_is_hidden_without_active_alerts_and_values_use_builtin_colours() -> None:
    clock = Clock()
    app = make_app(feed(clock, down=False, stale=False), clock, alerts=lambda: AlertEngine([]).view)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert bar_lines(app) == []
        host = next(p for p in app.screen.query(SourcePanel) if p.source_name == "host")
        assert not host.has_class("-critical")
        assert {row.label: row.style for row in host.view.rows}["disk usage /"] == "$text-error bold"


async def test_history_screen_shows_fired_and_resolved_with_time_and_value() -> None:
    app, engine, clock = alerting_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        clock.now += 60
        engine.evaluate(app.store.snapshot(), clock())  # nothing published for a minute
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, AlertHistoryScreen)
        history = app.screen.query_one("#alert-history", DataTable)
        rows = [[str(cell) for cell in history.get_row_at(i)] for i in range(history.row_count)]
        assert [row[:4] for row in rows] == [
            ["22:14:20", "resolved", "DiskFull", "host"],  # host has gone stale: no values, no alert
            ["22:13:20", "firing", "DiskFull", "host"],
            ["22:13:20", "firing", "WebDown", "web"],
        ]
        assert rows[1][4:6] == ["93.0 %", "mount=/"]  # as the summary and the panel write the ratio
        active = app.screen.query_one("#active-alerts", DataTable)
        states = [(str(row[0]), str(row[1])) for row in map(active.get_row_at, range(active.row_count))]
        assert states == [
            ("firing warning", "WebDown"),
            ("pending info", "CacheStale"),
            ("resolved critical", "DiskFull"),
        ]
        # `/` filters this screen too: the header said "filter: disk" and every row stayed.
        await pilot.press("slash", *"disk", "enter")
        await pilot.pause(0.2)
        assert [str(active.get_row_at(i)[1]) for i in range(active.row_count)] == ["DiskFull"]
        assert {str(history.get_row_at(i)[2]) for i in range(history.row_count)} == {"DiskFull"}
        await pilot.press("escape", "slash", *"zzz", "enter")  # nothing matches: it says so
        await pilot.pause(0.2)
        assert "No alert matches 'zzz'." in str(app.screen.query_one("#no-alerts").render())
        await pilot.press("c")  # the keys reach the screen again, not the filter
        await pilot.pause(0.2)
        assert app.screen.id == "costs" and app.filter_text == "zzz"


async def test_the_bell_rings_once_per_evaluation_that_fires_something_when_enabled() -> None:
    app, engine, clock = alerting_app(bell=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert app.bells == 1  # DiskFull and WebDown fired before the app started
        clock.now += 301
        engine.evaluate(app.store.snapshot(), clock())  # CacheStale has been stale for 5 minutes
        await pilot.pause(0.2)
        assert app.bells == 2
        assert [line.split(" for ")[0] for line in bar_lines(app)] == [
            "▲ FIRING WARNING WebDown",
            "▲ FIRING INFO CacheStale",
        ]
    quiet, engine, clock = alerting_app()
    async with quiet.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert quiet.bells == 0


def test_snapshot_overview_with_thresholds_and_alert_bar(snap_compare) -> None:
    app, _, _ = alerting_app(refresh=0.25)
    assert snap_compare(app, terminal_size=(120, 40))


def test_snapshot_alert_history(snap_compare) -> None:
    app, _, _ = alerting_app(refresh=0.25)
    assert snap_compare(app, terminal_size=(120, 40), press=["a"])


async def test_while_paused_the_alert_bar_and_header_age_keep_moving() -> None:
    app, engine, clock = alerting_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        clock.now += 7
        engine.evaluate(app.store.snapshot(), clock())
        app.tick()
        lines = bar_lines(app)
        # WebDown has fired 7 s ago, paused or not
        assert lines[0].startswith("▲ FIRING WARNING WebDown for 7.0s: "), lines
        header = str(app.screen.query_one("#status").render())
        assert "7.0s old" in header, header  # the frozen snapshot's real age, as the banner's "behind"
        stale = next(p for p in app.screen.query(SourcePanel) if p.source_name == "cache")
        assert "last data 20s ago" in stale.render().plain  # the frozen panels keep their ages


async def test_detail_keeps_table_rows_on_80x24_with_the_alert_bar_and_the_filter_open() -> None:
    app, _, _ = alerting_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_detail("host")
        await pilot.pause(0.2)
        await pilot.press("slash")
        await pilot.pause()
        assert len(bar_lines(app)) == 3 and app.screen.search.display
        table = app.screen.query_one("#series", DataTable)
        assert table.size.height >= 7, table.size  # the header and six rows: the chart gives way first


async def test_without_alert_rules_a_is_not_offered_and_the_open_screen_says_so() -> None:
    """`a` opened an empty screen and took a footer place from `t` and `r` at 80 columns; the
    screen, open when a reload removes every rule, said "No alert has fired yet." as if alerts
    were watching."""
    app, engine, _clock = alerting_app()
    views = [engine.view]
    app.alerts = lambda: views[-1]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "Alerts" in footer_row(app)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AlertHistoryScreen)
        views.append(AlertsView(version=engine.view.version + 1))  # a reload removed the rules
        app.tick()
        await pilot.pause()
        assert (
            str(app.screen.query_one("#no-alerts").render())
            == "No alerts are configured: see docs/ALERTS.md."
        )
        app.pop_screen()
        await pilot.pause()
        assert "Alerts" not in footer_row(app)
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, AlertHistoryScreen)
        assert "Alerts" not in [c.title for c in app.get_system_commands(app.screen)]
        assert "Active alerts" not in str(app.help_sections())
        views.append(dataclasses.replace(engine.view, version=engine.view.version + 2))
        app.tick()
        await pilot.pause()
        assert "Alerts" in footer_row(app), "a reload that adds rules brings `a` back"


async def test_summaries_are_cut_to_the_screen_and_shown_as_written() -> None:
    """A long summary ran past the screen's edge behind a horizontal scrollbar, cut without a
    sign; and a DataTable reads plain strings as markup: `[/var]` was an error, `[bold]` gone."""
    summary = "disk [/var] is [bold]full[/bold], " + "clean up the logs " * 12
    rules = [dict(rule, summary=summary) if rule["name"] == "WebDown" else rule for rule in RULES]
    app, _engine, _clock = alerting_app(rules)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause(0.2)
        active = app.screen.query_one("#active-alerts", DataTable)

        def summary_of_webdown() -> str:
            rows = map(active.get_row_at, range(active.row_count))
            return next(str(row[-1]) for row in rows if str(row[1]) == "WebDown")

        shown = summary_of_webdown()
        assert shown.startswith("disk [/var] is [bold]full[/bold], clean up") and shown.endswith("…")
        assert active.virtual_size.width <= active.size.width, "no horizontal scrollbar"
        await pilot.resize_terminal(200, 40)
        await pilot.pause(0.2)
        app.tick()
        await pilot.pause(0.2)
        assert len(summary_of_webdown()) > len(shown) and active.virtual_size.width <= active.size.width


FLEET = {
    "exported_source": "prometheus-central",
    "job": "node-exporter",
    "nodename": "prod-eu-d1",
    "role": "web",
}
"""Labels every host of a fleet query shares (the operator saw theirs as `ex…l, jo…or, na…d1, ro…web`)."""
FLEET_RULE = {
    "name": "HostCpuHigh",
    "source": "fleet",
    "metric": "fleet_cpu_usage_ratio",
    "op": ">",
    "threshold": 0.9,
    "severity": "warning",
    "summary": "CPU on {{ labels.hostname }} has been over 90 % for five minutes: check the web tier",
}


def fleet_app(hosts: dict[str, dict[str, str]], **options: object) -> MonitorApp:
    """An app whose only alert fires on every host of a `fleet` source, each with `FLEET` and
    its own labels (a fleet query's series, exported_source among them)."""
    clock = Clock()
    store = feed(clock)
    series = {
        ("fleet_cpu_usage_ratio", tuple(sorted({**FLEET, **own}.items()))): 0.97 for own in hosts.values()
    }
    publish_every_second(store, clock, "fleet", series)
    engine = AlertEngine([AlertSettings.model_validate(FLEET_RULE)])
    engine.evaluate(store.snapshot(), clock())
    return make_app(store, clock, alerts=lambda: engine.view, **options)


def table_cells(app: MonitorApp, table_id: str, column: str) -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    [key] = [key for key, col in table.columns.items() if str(col.label) == column]
    return [str(cell) for cell in table.get_column(key)]


TWO_HOSTS = {
    "web1": {"hostname": "web1", "instance": "web1:9100"},
    "web2": {"hostname": "web2", "instance": "web2:9100"},
}


@pytest.mark.parametrize("width", [160, 80])
async def test_a_fleets_labels_leave_out_those_every_row_shares_and_keep_what_tells_hosts_apart(
    width: int,
) -> None:
    """At 160 columns the labels column read `ex…l, ho…b1, in…01, jo…or, na…d1, ro…web` (cut to
    a fixed 40 cells, every label kept) while the summary had 60 columns free: two hosts
    differed only in `in…01` and `in…02`."""
    app = fleet_app(TWO_HOSTS)
    async with app.run_test(size=(width, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause(0.2)
        for table in ("#active-alerts", "#alert-history"):
            labels = table_cells(app, table, "labels")
            assert len(labels) == 2
            for host, cell in zip(("web1", "web2"), sorted(labels), strict=True):
                assert f"={host}, " in cell and cell.endswith(f"={host}:9100"), labels  # values whole
                assert not any(name[:2] in cell for name in FLEET), labels  # nor cut: left out
            if width == 160:  # room for the names too
                assert sorted(labels) == [
                    "hostname=web1, instance=web1:9100",
                    "hostname=web2, instance=web2:9100",
                ]
        titles = [str(widget.render()) for widget in app.screen.query(".section")]
        every_row = (
            "every row: exported_source=prometheus-central, job=node-exporter, nodename=prod-eu-d1, role=web"
        )
        assert titles == [f"Active  {every_row}", f"History (newest first)  {every_row}"]
        active = app.screen.query_one("#active-alerts", DataTable)
        if width == 160:
            assert active.virtual_size.width <= active.size.width, "no horizontal scrollbar"
        # `/` still finds the rows by a label they no longer show
        await pilot.press("slash", *"prometheus-central", "enter")
        await pilot.pause(0.2)
        assert len(table_cells(app, "#active-alerts", "labels")) == 2


async def test_the_labels_take_the_room_the_summary_leaves_and_follow_a_resize() -> None:
    """Labels that all differ from row to row (nothing to leave out) were cut to 40 cells on any
    screen; they take what the other columns leave, shared with the summary, refitted as soon
    as the terminal is resized."""
    hosts = {
        f"web{i}": {
            "hostname": f"web{i}.prod.example.net",
            "instance": f"10.0.3.{i}:9100",
            "rack": f"eu-west-rack-{i}",
        }
        for i in (1, 2)
    }
    app = fleet_app(hosts, refresh=3600)  # no tick: the resize itself refits
    whole = "hostname=web1.prod.example.net, instance=10.0.3.1:9100, rack=eu-west-rack-1"
    async with app.run_test(size=(240, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause(0.2)
        assert sorted(table_cells(app, "#active-alerts", "labels"))[0] == whole  # 76 cells
        summaries = table_cells(app, "#active-alerts", "summary")
        assert all(not summary.endswith("…") for summary in summaries), summaries
        await pilot.resize_terminal(200, 40)
        await pilot.pause(0.2)
        labels = sorted(table_cells(app, "#active-alerts", "labels"))
        # Half of the room, 68 cells: the names are cut, every value stays whole.
        assert labels[0] == "hos…=web1.prod.example.net, ins…=10.0.3.1:9100, rack=eu-west-rack-1", labels
        summary = table_cells(app, "#active-alerts", "summary")[0]
        assert len(summary) > 60 and summary.endswith("…"), summary
        active = app.screen.query_one("#active-alerts", DataTable)
        assert active.virtual_size.width <= active.size.width, "no horizontal scrollbar"
