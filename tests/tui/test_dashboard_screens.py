"""Detail, help, log and command palette screens, driven with Pilot."""

from __future__ import annotations

import logging
import math
import threading

import pytest
from textual.widgets import DataTable, RichLog, Static
from textual.widgets._footer import FooterKey
from textual_plotext import PlotextPlot

from monitor.alerts.definitions import Severity
from monitor.alerts.state import AlertsView
from monitor.humanize import axis_scale
from monitor.lognews import SHOWN_ELSEWHERE
from monitor.model import SourceHealth
from monitor.tui.detail import tick_labels
from monitor.tui.help import HelpScreen
from monitor.tui.logbuffer import LogBuffer
from tests.tui.dashboard_support import footer_row, make_app, screen_text
from tests.tui.feed import Clock, feed, publish_every_second, up


@pytest.fixture
def clock() -> Clock:
    return Clock()


def table_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#series", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def chart_title(app) -> str:
    """The first line of the chart as drawn: plotext centres the title there."""
    rendered = app.screen.query_one("#chart", PlotextPlot).render()
    return getattr(rendered, "plain", str(rendered)).splitlines()[0].strip()


def log_lines(app) -> list[str]:
    """The log screen's lines as it draws them, long ones wrapped into several."""
    return [strip.text.rstrip() for strip in app.screen.query_one("#log", RichLog).lines]


def screen_rows(app) -> list[str]:
    """The terminal's rows as drawn: what is scrolled out of view is not in them."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def open_detail(pilot, app, source: str) -> None:
    await pilot.pause()
    while app.focused is None or app.focused.id != f"panel-{source}":
        await pilot.press("tab")
    await pilot.press("enter")
    await pilot.pause()


async def test_detail_lists_every_series_with_window_statistics(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        rows = {row[0]: row[1:] for row in table_rows(app)}
        assert set(rows) == {
            'host_cpu_usage_ratio{cpu="total"}',
            "host_memory_used_bytes",
            'host_disk_usage_ratio{mount="/"}',
            'host_disk_usage_ratio{mount="/home"}',
            "host_processes",
        }
        assert rows["host_processes"] == ["214", "212", "214", "213"]
        assert rows['host_disk_usage_ratio{mount="/"}'] == ["93.0 %"] * 4
        title = str(app.screen.query_one("#detail-title", Static).render())
        assert "host" in title and "window 1m" in title and "5 series" in title
        assert chart_title(app).startswith('host_cpu_usage_ratio{cpu="total"}')


async def test_detail_counter_rates_and_escape_back(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "web")
        rows = {row[0]: row[1:] for row in table_rows(app)}
        assert rows["http_requests_total"] == ["5/s"] * 4
        assert "down, retry in 4.0s" in str(app.screen.query_one("#detail-title", Static).render())
        await pilot.press("escape")
        assert app.screen.id == "overview"


def header_labels(app) -> list[str]:
    return [column.label.plain for column in app.screen.query_one("#series", DataTable).columns.values()]


async def test_detail_sort_by_key_and_by_clicking_a_header(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        names = [row[0] for row in table_rows(app)]
        assert names == sorted(names)
        await pilot.press("s")  # by current value
        await pilot.pause()
        assert table_rows(app)[0][0] == 'host_disk_usage_ratio{mount="/home"}'
        assert header_labels(app) == ["series", "current ▲", "min", "max", "mean"]
        await pilot.press("R")
        await pilot.pause()
        assert table_rows(app)[0][0] == "host_memory_used_bytes"
        assert header_labels(app)[1] == "current ▼"
        table = app.screen.query_one("#series", DataTable)
        await pilot.click(table, offset=(1, 0))  # the "series" header
        await pilot.pause()
        assert [row[0] for row in table_rows(app)] == sorted(names)
        await pilot.click(table, offset=(1, 0))
        await pilot.pause()
        assert [row[0] for row in table_rows(app)] == sorted(names, reverse=True)


async def test_detail_sorts_series_without_a_value_last_both_ways(clock: Clock) -> None:
    store = feed(clock)
    store.add_source("odd", "test", 1.0)
    values = {"one": 1.0, "missing": math.nan, "minus_inf": -math.inf, "five": 5.0}
    store.publish("odd", up(clock.now, 1), {(f"odd_{name}", ()): value for name, value in values.items()})
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "odd")
        await pilot.press("s")  # by current value
        await pilot.pause()
        assert [row[0] for row in table_rows(app)] == ["odd_minus_inf", "odd_one", "odd_five", "odd_missing"]
        await pilot.press("R")
        await pilot.pause()
        assert [row[0] for row in table_rows(app)] == ["odd_five", "odd_one", "odd_minus_inf", "odd_missing"]


async def test_detail_chart_follows_the_selected_row(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        await pilot.press("down", "down")
        await pilot.pause()
        assert chart_title(app).startswith('host_disk_usage_ratio{mount="/home"}')


def chart_text(app) -> str:
    rendered = app.screen.query_one("#chart", PlotextPlot).render()
    return getattr(rendered, "plain", str(rendered))


async def test_detail_chart_ticks_in_the_series_unit(clock: Clock) -> None:
    """3.4 GiB of memory ticks at 3.20, not 3435973836.8; a series of 1e-300 is drawn at all."""
    store = feed(clock)
    store.add_source("tiny", "test", 1.0)
    store.add_source("stamp", "test", 1.0)
    end = clock.now
    for i in range(10):
        clock.now = end - 9 + i  # the store stamps each point with the clock's time
        store.publish("tiny", up(clock.now, i + 1), {("tiny_value", ()): 1e-300 * (1 + i % 3)})
        store.publish(
            "stamp",
            up(clock.now, i + 1),
            {
                ("stamp_last_success_timestamp_seconds", ()): clock.now - 5 - i,
                ("stamp_never_timestamp_seconds", ()): 0.0,
            },
        )
    clock.now = end
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        await pilot.press("down", "down", "down")  # host_memory_used_bytes
        await pilot.pause()
        assert chart_title(app) == "host_memory_used_bytes (GiB)"
        ticks = [line.split("┤")[0].strip() for line in chart_text(app).splitlines() if "┤" in line]
        assert ticks and all(tick.startswith("3.2") for tick in ticks), ticks
        await pilot.press("escape")
        await open_detail(pilot, app, "tiny")
        assert chart_title(app) == "tiny_value (×1e-300)"
        assert any("\u2800" < char <= "\u28ff" for char in chart_text(app))  # braille dots: a line
        await pilot.press("escape")
        await open_detail(pilot, app, "stamp")  # a timestamp is charted as its age, 5 s to 14 s
        assert chart_title(app) == "stamp_last_success_timestamp_seconds (age, s)"
        ticks = [float(line.split("┤")[0]) for line in chart_text(app).splitlines() if "┤" in line]
        assert min(ticks) >= 4 and max(ticks) <= 15, ticks
        # The table's statistics are over the same ages; 0 is "never", with no age at all.
        rows = {row[0]: row[1:] for row in table_rows(app)}
        assert rows["stamp_last_success_timestamp_seconds"] == ["14s ago", "5.0s ago", "14s ago", "9.5s ago"]
        assert rows["stamp_never_timestamp_seconds"] == ["never", "–", "–", "–"]
        await pilot.press("s")  # by current: a timestamp sorts by the age it shows, never last
        await pilot.pause()
        assert [row[0] for row in table_rows(app)] == [
            "stamp_last_success_timestamp_seconds",
            "stamp_never_timestamp_seconds",
        ]


async def test_detail_chart_ticks_sit_on_the_rows_of_their_values(clock: Clock) -> None:
    """A series of constant 0 was drawn on the row plotext labelled 1.00, under 0.33 and -0.67."""
    store = feed(clock)
    publish_every_second(store, clock, "flat", {("flat_value", ()): 0.0})
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "flat")
        labelled = {
            line.split("┤")[0].strip(): line.split("┤")[1]
            for line in chart_text(app).splitlines()
            if "┤" in line
        }
        assert list(labelled) == ["1", "0", "-1"]
        assert any("\u2800" < char <= "\u28ff" for char in labelled["0"]), labelled  # the line is on 0
    assert tick_labels([30.41, 30.435, 30.46]) == ["30.41", "30.43", "30.46"]  # not 30.4 thrice
    assert axis_scale(0.26) == (1.0, "no unit")  # a load of 0.26, not 260 ×1e-3


async def test_detail_chart_says_why_a_series_has_no_line(clock: Clock) -> None:
    """A series NaN all along drew an empty frame with no word of why."""
    store = feed(clock)
    publish_every_second(store, clock, "odd", {("odd_inf", ()): math.inf, ("odd_missing", ()): math.nan})
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "odd")
        assert chart_title(app).startswith("odd_inf")
        assert "no numeric values in this window: every sample is +Inf" in chart_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert chart_title(app).startswith("odd_missing")
        assert "no numeric values in this window: every sample is NaN" in chart_text(app)


async def test_detail_window_switch_is_clamped_to_history(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        title = app.screen.query_one("#detail-title", Static)
        for key, label in (("2", "window 5m"), ("3", "window 15m"), ("1", "window 1m")):
            await pilot.press(key)
            await pilot.pause()
            assert label in str(title.render())
            assert "history keeps" not in str(title.render())
        await pilot.press("4")
        await pilot.pause()
        assert "window 1h (history keeps 15m00s)" in str(title.render())


async def test_detail_filter_narrows_the_table(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        await pilot.press("slash", *"home", "enter")
        await pilot.pause()
        assert [row[0] for row in table_rows(app)] == ['host_disk_usage_ratio{mount="/home"}']
        assert "1 of 5 series" in app.screen.query_one("#detail-title", Static).render().plain
        await pilot.press("escape")
        await pilot.pause()
        assert len(table_rows(app)) == 5


async def test_help_lists_every_binding_and_badge(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        for description in app.help_sections()["Everywhere"]:
            assert description.tooltip in text
        for words in ("Window: the last 5 minutes", "Open the focused source's detail", "stale", "pending"):
            assert words in text
        await pilot.press("escape")
        assert app.screen.id == "overview"


async def test_command_palette_runs_dashboard_actions(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p", *"Pause")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.paused
        await pilot.press("ctrl+p", *"Detail: cache")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.id == "detail" and app.screen.source_name == "cache"
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in (
            *("Resume", "Filter", "Help", "Monitoring cost", "Log", "Overview"),
            *("Toggle dark/light", "Window 1h", "Sort", "Reverse sort", "Detail: host", "Quit"),
        ):
            assert title in titles


async def test_warnings_logged_from_a_thread_reach_notifications_and_the_log_screen(clock: Clock) -> None:
    buffer = LogBuffer()
    logger = logging.getLogger("tests.tui.poller")
    logger.addHandler(buffer)
    app = make_app(feed(clock), clock, log_buffer=buffer)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")  # nothing logged yet: the screen says so rather than stay blank
            await pilot.pause()
            assert "Nothing logged yet" in str(app.screen.query_one("#log-empty", Static).render())
            await pilot.press("escape")
            await pilot.pause()
            worker = threading.Thread(target=logger.warning, args=("source %r is down: %s", "web", "refused"))
            worker.start()
            worker.join()
            app.tick()
            await pilot.pause()
            assert any("source 'web' is down: refused" in n.message for n in app._notifications)
            await pilot.press("l")
            await pilot.pause()
            assert not app.screen.query_one("#log-empty", Static).display
            assert any(
                "WARNING tests.tui.poller: source 'web' is down: refused" in line for line in log_lines(app)
            )
            logger.warning("source %r is down: %s", "cache", "timeout")
            await pilot.press("slash", *"cache", "enter")  # `/` filters the log's lines
            await pilot.pause(0.2)
            assert [line for line in log_lines(app) if line] == [
                line for line in log_lines(app) if "cache" in line.lower()
            ] and any("'cache' is down" in line for line in log_lines(app))
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert any("'web' is down" in line for line in log_lines(app))
    finally:
        logger.removeHandler(buffer)


async def test_log_lines_wrap_at_the_screens_width_not_at_80_columns(clock: Clock) -> None:
    """On a 160-column terminal a 120-character line took two rows, wrapped at 78 columns, and
    half the screen stayed empty."""
    buffer = LogBuffer()
    logger = logging.getLogger("tests.tui.width")
    logger.addHandler(buffer)
    app = make_app(feed(clock), clock, log_buffer=buffer)
    try:
        logger.warning("source 'api' is down: 127.0.0.1:44721: cannot connect: %s", "refused " * 8)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("l")
            await pilot.pause()
            [line] = [line for line in log_lines(app) if line.strip()]
            assert line.rstrip().endswith("refused")
    finally:
        logger.removeHandler(buffer)


async def test_a_long_log_line_wraps_and_the_keys_scroll_the_log_without_a_tab(clock: Clock) -> None:
    """The log cut lines at the terminal's edge, and the cut-off end is the error itself; →
    (and every other key) did nothing until a Tab. Scrolled up to read, new lines do not pull
    the log back down; End follows them again."""
    buffer = LogBuffer()
    logger = logging.getLogger("tests.tui.longline")
    logger.addHandler(buffer)
    app = make_app(feed(clock), clock, log_buffer=buffer)
    try:
        for i in range(60):
            logger.warning("line %d", i)
        logger.warning(
            "source 'db' is down: %s: disk full", " ".join(["while writing the write-ahead log"] * 6)
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("l")
            await pilot.pause()
            shown = "\n".join(screen_rows(app))
            assert "source 'db' is down: while writing" in shown and "log: disk full" in shown
            await pilot.press("home")
            await pilot.pause()
            assert "line 0 " in "\n".join(screen_rows(app))
            logger.warning("a line that comes while reading")
            app.tick()
            await pilot.pause()
            shown = "\n".join(screen_rows(app))
            assert "line 0 " in shown and "while reading" not in shown
            await pilot.press("end")
            await pilot.pause()
            assert "a line that comes while reading" in "\n".join(screen_rows(app))
            logger.warning("and one after End")
            app.tick()
            await pilot.pause()
            assert "and one after End" in "\n".join(screen_rows(app))
            await pilot.resize_terminal(50, 24)  # a narrower split wraps the lines anew
            app.tick()
            await pilot.pause()
            assert "disk full" in "\n".join(screen_rows(app))
            assert max(len(line) for line in log_lines(app)) <= 50
    finally:
        logger.removeHandler(buffer)


async def test_news_the_screen_already_shows_makes_no_toast_and_a_burst_makes_one(clock: Clock) -> None:
    """A source going down is on its badge; ten sources failing at once is one more toast,
    not ten covering the panels. Both stay in the log."""
    buffer = LogBuffer()
    scheduler_log, other = logging.getLogger("monitor.scheduler"), logging.getLogger("tests.tui.burst")
    for logger in (scheduler_log, other):
        logger.addHandler(buffer)
    app = make_app(feed(clock), clock, log_buffer=buffer)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            scheduler_log.warning("source %r is down: %s", "web", "refused", extra=SHOWN_ELSEWHERE)
            app.tick()
            await pilot.pause()
            assert not app._notifications
            for i in range(10):
                other.warning("plugin %d misbehaved", i)
            app.tick()
            await pilot.pause()
            messages = [n.message for n in app._notifications]
            assert messages == [
                "plugin 0 misbehaved",
                "plugin 1 misbehaved",
                "8 more warnings: l opens the log",
            ]
            await pilot.press("l")
            await pilot.pause()
            lines = log_lines(app)
            assert any("source 'web' is down: refused" in line for line in lines)
            assert any("plugin 9 misbehaved" in line for line in lines)
    finally:
        for logger in (scheduler_log, other):
            logger.removeHandler(buffer)


async def test_long_series_names_are_cut_so_every_column_stays_on_screen(clock: Clock) -> None:
    """A fleet query's long series names pushed max and mean off a 120-column detail table,
    and `s` then sorted by a column nobody could see."""
    store = feed(clock)
    name = "fleet_cpu_busy_ratio_averaged_over_every_core_of_the_instance"
    store.add_source("fleet", "promql", 1.0, health=SourceHealth(stale_after=3.0))
    store.publish(
        "fleet",
        up(clock.now),
        {
            (name, (("instance", f"host-{i}.example.internal:9100"), ("job", "node"))): 0.1 * i
            for i in range(3)
        },
    )
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "fleet")
        table = app.screen.query_one("#series", DataTable)
        widths = [column.get_render_width(table) for column in table.columns.values()]
        assert sum(widths) <= table.size.width, widths
        names = [row[0] for row in table_rows(app)]
        assert len(names) == 3 and all("…" in n for n in names)
        for i, shown in enumerate(names):  # the metric's name is cut, not what tells the rows apart
            assert shown.startswith("…") and shown.endswith(
                f'_instance {{instance="host-{i}.example.internal:9100"}}'
            ), "and the `job` every row shares goes first"
        await pilot.resize_terminal(80, 24)  # narrower: cut harder, the columns still all there
        await pilot.pause(0.3)
        widths = [column.get_render_width(table) for column in table.columns.values()]
        assert sum(widths) <= table.size.width, widths


async def test_opening_a_screen_already_open_further_down_goes_back_to_it(clock: Clock) -> None:
    """`c`, `l`, `c` (or `?`, `l`, `?`) crashed the dashboard, exporter and all, with
    DuplicateIds: a second copy of a screen was pushed over the first."""
    from monitor.tui.costs import CostScreen
    from monitor.tui.detail import DetailScreen

    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c", "l", "c")
        await pilot.pause()
        assert isinstance(app.screen, CostScreen) and len(app.screen_stack) == 2
        await pilot.press("question_mark", "l", "question_mark")
        await pilot.pause()
        assert [s.id for s in app.screen_stack][1:] == ["costs", "help"]

        await pilot.press("escape", "escape")
        await open_detail(pilot, app, "host")
        await pilot.press("c")
        await pilot.pause()
        app.open_detail("web")  # what the palette's "Detail: web" does
        await pilot.pause()
        details = [s for s in app.screen_stack if isinstance(s, DetailScreen)]
        assert app.screen is details[0] and len(details) == 1 and details[0].source_name == "web"
        assert "http_requests_total" in [row[0] for row in table_rows(app)]  # web's series, not host's
        assert app.is_running


async def test_the_palettes_screenshot_is_saved_where_there_is_no_downloads_folder(
    clock: Clock, tmp_path, monkeypatch
) -> None:
    """Textual saves into ~/Downloads, which a server has not: "Failed to save screenshot".
    The palette's command is run as the palette runs it (it bypasses the screenshot action)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        [screenshot] = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        screenshot.callback()
        for _ in range(50):  # until the app says so: its saving thread reports back to it
            if any("Saved screenshot" in n.message for n in app._notifications):
                break
            await pilot.pause(0.1)
    shots = list(tmp_path.glob("*.svg"))
    assert len(shots) == 1 and "testhost" in shots[0].read_text()


@pytest.mark.parametrize("width", [40, 60, 80, 120])
async def test_every_key_the_footer_shows_is_whole(clock: Clock, width: int) -> None:
    """At 80 columns the footer ran its last keys under the palette's and off the screen
    (`c Cost  l Lo▏^p palette`), and on 120 the detail screen's did too (`r Rel▏`); a tmux
    split of 60 or 40 columns cut `? He▏`. The app has every key the real command can have:
    `r` and, with alert rules, `a`."""
    rules = AlertsView(version=1, rules=(("HostDown", Severity.WARNING, "host"),))
    app = make_app(feed(clock), clock, alerts=lambda: rules)
    app.allow_reload(lambda: None)
    async with app.run_test(size=(width, 24)) as pilot:
        # The overview, the detail, and from the overview the cost, log, alerts and help screens.
        for keys in ([], ["enter"], *(["escape", key] for key in ("c", "l", "a", "question_mark"))):
            await pilot.press(*keys)
            await pilot.pause()
            row = footer_row(app)
            shown = [f"{key.key_display} {key.description}" for key in app.screen.query(FooterKey)]
            assert [item for item in shown if item not in row] == [], (app.screen.id, row)
            assert "q Quit" in row and row.rstrip().endswith("^p palette"), (app.screen.id, row)
            if width >= 120:  # room for every key: none is left out
                assert "r Reload" in row and "a Alerts" in row, (app.screen.id, row)
            if isinstance(app.screen, HelpScreen):
                assert "/ Filter" not in row, "/ filters every screen but help, which offered it"
            elif width >= 80:
                assert "/ Filter" in row, (app.screen.id, row)
            else:  # a narrow split keeps the keys that lead to the others
                assert "? Help" in row, (app.screen.id, row)


async def test_escape_is_offered_only_where_it_does_something_and_named_for_what_it_does(
    clock: Clock,
) -> None:
    """The overview's footer said `esc Back` with nothing to go back to, and the palette
    offered "Clear filter" with no filter set. While a filter was set the footer said
    `esc Back` too, though Escape cleared the filter."""
    app = make_app(feed(clock), clock)

    def offered() -> tuple[str, bool]:
        commands = [command.title for command in app.get_system_commands(app.screen)]
        row = footer_row(app)
        escape = "Clear filter" if "esc Clear filter" in row else "Back" if "esc Back" in row else ""
        return escape, "Clear filter" in commands

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert offered() == ("", False)
        await pilot.press("slash", *"web", "enter")
        await pilot.pause()
        assert offered() == ("Clear filter", True)
        await pilot.press("escape")
        await pilot.pause()
        assert offered() == ("", False) and app.filter_text == ""
        await pilot.press("enter")  # the detail screen: escape goes back to the overview
        await pilot.pause()
        assert offered() == ("Back", False)
        await pilot.press("slash", *"load", "enter")  # a filter on the detail: Escape clears it first
        await pilot.pause()
        assert offered() == ("Clear filter", True)
        await pilot.press("escape")
        await pilot.pause()
        assert offered() == ("Back", False) and app.filter_text == "" and app.screen.id == "detail"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.id == "overview"


async def test_text_from_outside_is_shown_as_written_not_read_as_markup(clock: Clock) -> None:
    """Textual reads plain strings as markup: a filter, a log line or an error quoting `[/var]`
    raised MarkupError and ended the dashboard; `[bold]` vanished; `[@click=app.quit]` in a
    server's error text would have made a link that quits."""
    buffer = LogBuffer()
    logger = logging.getLogger("tests.tui.markup")
    logger.addHandler(buffer)
    app = make_app(feed(clock), clock, log_buffer=buffer)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            logger.warning("server said [@click=app.quit]x[/] and [/var] is [bold]full[/bold]")
            app.tick()
            await pilot.pause()
            toast = next(n for n in app._notifications if "server said" in n.message)
            assert not toast.markup
            await pilot.press("slash", *"[/x]", "enter")
            await pilot.pause()
            assert "no source or series matches '[/x]'" in screen_text(app)
            assert "filter: [/x]" in str(app.screen.query_one("#status").render())
            for key in ("c", "l"):  # each screen says what is filtered, and what matched
                await pilot.press(key)
                await pilot.pause()
                assert "filter: [/x]" in str(app.screen.query_one("#status").render()), key
                assert key == "c" or "matches '[/x]'" in screen_text(app), key
                app.pop_screen()
            await pilot.pause()
            app.set_filter("[bold]")
            app.tick()
            await pilot.pause()
            assert "filter: [bold]" in str(app.screen.query_one("#status").render())
    finally:
        logger.removeHandler(buffer)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_detail_rows_that_differ_in_one_label_stay_apart_and_the_chart_has_a_title(
    clock: Clock, size: tuple[int, int]
) -> None:
    """Six series of a long metric, one service, endpoints differing at their ends: the cut in
    the middle left six identical names, and plotext dropped the chart's too-long title."""
    metric = "app_extremely_long_metric_name_for_request_processing_duration_seconds"
    service = ("service", "payments-gateway-eu-west-1-primary-cluster")
    endpoints = [f"/api/v2/customers/{{id}}/invoices/{n}" for n in (1, 2, 3, 10, 11, 20)]
    series = {(metric, (("endpoint", e), service)): 0.01 * i for i, e in enumerate(endpoints, 1)}
    series[(metric, (("endpoint", "[/var] [bold]x"), service))] = 1.0  # shown as written
    store = feed(clock)
    publish_every_second(store, clock, "app", series)
    app = make_app(store, clock)
    async with app.run_test(size=size) as pilot:
        await open_detail(pilot, app, "app")
        names = [row[0] for row in table_rows(app)]
        assert len(set(names)) == len(names) == 7, names
        assert all(any(name.endswith(f'invoices/{n}"}}') for name in names) for n in (1, 2, 3, 10, 11, 20))
        assert any("[/var] [bold]x" in name for name in names)
        title = chart_title(app)
        assert "invoices/" in title and title.endswith("(ms)"), title


async def test_every_row_of_a_metric_is_cut_alike_in_the_detail_table(clock: Clock) -> None:
    """At 80 columns only the rows too long for the column were cut: `cpu_usage_ratio
    {cpu="total"}` over `system_cpu_usage_ratio{cpu="0"}`."""
    cpus = {("system_cpu_usage_ratio", (("cpu", cpu),)): 0.25 for cpu in ("total", "0", "1", "2")}
    interfaces = ("lo", "eth0", "wlp0s20f3")
    network = {("system_network_receive_bytes_total", (("interface", i),)): 1e6 for i in interfaces}
    store = feed(clock)
    publish_every_second(store, clock, "system", {**cpus, **network})
    app = make_app(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app, "system")
        names = [row[0] for row in table_rows(app)]
        assert any(name.startswith("…") for name in names), f"a row is cut at 80 columns: {names}"
        for metric in ("cpu_usage_ratio", "bytes_total"):
            rows = [name for name in names if metric in name]
            heads = {name.split("{")[0] for name in rows}
            assert len(rows) > 1 and len(heads) == 1, rows


async def test_the_charts_time_axis_is_in_minutes_from_a_5_minute_window(clock: Clock) -> None:
    """At 15m the axis read `-900 -675 -450 -225 0 / seconds before the snapshot`."""
    app = make_app(feed(clock), clock)

    def time_axis() -> tuple[list[str], str]:
        *_, ticks, label = chart_text(app).splitlines()
        return ticks.split(), label.strip()

    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, app, "host")
        assert time_axis() == (["-60", "-45", "-30", "-15", "0"], "seconds before the snapshot")
        for key, ticks in (("2", ["-5", "-4", "-3", "-2", "-1", "0"]), ("3", ["-15", "-10", "-5", "0"])):
            await pilot.press(key)
            await pilot.pause()
            assert time_axis() == (ticks, "minutes before the snapshot"), key
        await pilot.press("4")  # an hour, as far as the 15 minutes of history go
        await pilot.pause()
        assert time_axis() == (["-15", "-10", "-5", "0"], "minutes before the snapshot")
