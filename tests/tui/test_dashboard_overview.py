"""The overview: panels, health badges, formatted values, partial redraws, filter, pause,
reflow, themes and quitting, driven with Pilot over a store the test fills."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

import pytest
from rich.cells import cell_len
from textual.containers import Grid
from textual.events import MouseScrollUp
from textual.pilot import Pilot
from textual.widgets import Input

from monitor.model import SourceHealth
from monitor.store import MetricsStore
from monitor.tui.app import MonitorApp
from monitor.tui.panel import SPARK_CHARS, VALUE_WIDTH, SourcePanel
from tests.tui.dashboard_support import EXPORTER_URL, footer_row, make_app, panel_text, screen_text
from tests.tui.feed import HOST_SPECS, NOW, Clock, feed, host_series, publish_every_second, up
from tests.tui.test_dashboard_view import many_core_host


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_panels_show_health_and_formatted_key_metrics(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = panel_text(app)
        assert list(text) == ["host", "web", "cache"]
        assert "● up" in text["host"]
        assert "93.0 %" in text["host"] and "3.23 GiB" in text["host"]
        assert "cpu usage total" in text["host"] and "disk usage /home" in text["host"]
        assert "processes" not in text["host"], "only key metrics without a show list"
        assert "down, retry in 4.0s" in text["web"]
        assert "connection refused: http://127.0.0.1:9/health" in text["web"]
        assert "80 ms" in text["web"], "the last values stay visible while down"
        assert "5/s" in text["web"], "a counter is shown as a per-second rate"
        assert "stale: last data 20s ago" in text["cache"]
        assert app.query_one(SourcePanel).has_class("-up")
        assert app.screen.query_one("#panel-web").has_class("-down")
        header = str(app.screen.query_one("#status").render())
        assert "testhost" in header and EXPORTER_URL in header
        assert f"snapshot v{app.store.snapshot().version}" in header


async def test_the_header_says_when_no_exporter_runs(clock: Clock) -> None:
    """An app embedded without an exporter (Runtime without one) read 'exporter exporter off'."""
    app = make_app(feed(clock), clock, exporter_url="")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = str(app.screen.query_one("#status").render())
        assert header.endswith(" · exporter off") and "exporter exporter" not in header


async def test_infinite_values_are_shown_not_fatal(clock: Clock) -> None:
    """A `command` printing +Inf (which the README allows) killed the whole dashboard with a
    ValueError from the sparkline."""
    store = feed(clock)
    store.add_source("odd", "command", 1.0, health=SourceHealth(stale_after=3.0))
    for i, value in enumerate((1.0, float("inf"), float("-inf"))):
        store.publish(
            "odd", up(clock.now - 2 + i), {("command_value", ()): value, ("odd_seconds", ()): value}
        )
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "-Inf" in panel_text(app)["odd"]
        app.open_detail("odd")
        await pilot.pause(0.2)
        assert app.screen.id == "detail"


async def test_arrow_keys_move_the_focus_even_where_the_grid_scrolls(clock: Clock) -> None:
    """With more panels than the screen holds, ↓ scrolled the page and left the focus on a
    panel that scrolled away; Enter then opened a source nobody could see."""
    store = feed(clock)
    for i in range(12):
        store.add_source(f"extra{i:02d}", "host", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
        store.publish(f"extra{i:02d}", up(clock.now), host_series(i))
    app = make_app(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first = app.focused
        await pilot.press("down", "down")
        await pilot.pause()
        assert app.focused is not first and app.focused.id == "panel-cache"
        await pilot.press("up")
        await pilot.pause()
        assert app.focused.id == "panel-web"
        await pilot.press("slash", "x", "left", "y")  # the filter bar keeps its left arrow
        await pilot.pause()
        assert app.screen.query_one(Input).value == "yx"


async def test_no_row_is_wider_than_its_panel_whatever_its_value_or_label(clock: Clock) -> None:
    """1e30 bytes (fifteen digits of PiB) and a label of emoji wrapped their rows, and the
    panel's last row fell out of sight without a "+N more"."""
    store = feed(clock)
    store.add_source("odd", "command", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
    for i in range(30):  # a full sparkline: its width is what the wrap needed
        store.publish(
            "odd",
            up(clock.now - 30 + i),
            {
                ("host_memory_used_bytes", ()): 1e30 + i,
                ("host_cpu_usage_ratio", (("cpu", "🚀🚀🚀 rocket ✓ مرحبا 火箭火箭火箭"),)): 0.5,
                ("host_processes", ()): -math.inf,
            },
        )
    app = make_app(
        store, clock, show={"odd": ["host_memory_used_bytes", "host_cpu_usage_ratio", "host_processes"]}
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#panel-odd", SourcePanel)
        lines = panel.render().plain.splitlines()
        assert all(cell_len(line) <= panel.content_size.width for line in lines), lines
        assert len(lines) == 4 and lines[1].split()[-2:-1] == ["PiB"] and "-Inf" in lines[3]


async def test_configured_show_list_chooses_the_panel_rows(clock: Clock) -> None:
    app = make_app(feed(clock), clock, show={"host": ("host_processes", "host_memory_used_bytes")})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lines = panel_text(app)["host"].splitlines()
        assert [line.split("  ")[0] for line in lines[1:]] == ["processes", "memory used"]


async def test_only_changed_panels_are_rebuilt_and_stale_age_moves_with_time(clock: Clock) -> None:
    store = feed(clock)
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panels = {p.source_name: p for p in app.screen.query(SourcePanel)}
        before = {name: panel.view for name, panel in panels.items()}
        store.publish("host", up(NOW, 99), {**host_series(0), ("host_memory_used_bytes", ()): 2**30})
        app.tick()
        assert panels["host"].view is not before["host"]
        assert "1 GiB" in panel_text(app)["host"]
        assert panels["web"].view is before["web"], "an unchanged source is not redrawn"
        assert panels["cache"].view is before["cache"]
        clock.now += 0.5
        app.tick()
        assert "stale: last data 20s ago" in panel_text(app)["cache"]
        assert panels["cache"].view.rows is before["cache"].rows, "only the badge was redrawn"


async def test_a_stale_sources_sparklines_empty_as_time_passes(clock: Clock) -> None:
    """A hung poller publishes nothing: its last values must not sit at the sparkline's right
    edge, where "now" is, as if they were live."""
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#panel-cache", SourcePanel)

        def blanks_at_the_right() -> int:
            history = panel.view.rows[0].history
            return len(history) - len(tuple(itertools.dropwhile(math.isnan, reversed(history))))

        assert blanks_at_the_right() == 19, "the 20 s since the last data, less the point at it"
        clock.now += 2
        app.tick()
        assert blanks_at_the_right() == 21
        assert "stale: last data 22s ago" in panel_text(app)["cache"]
        clock.now += 60
        app.tick()
        assert all(math.isnan(x) for x in panel.view.rows[0].history), "nothing left in the window"
        drawn = panel.view.rows
        clock.now += 60
        app.tick()
        assert panel.view.rows is drawn, "an empty sparkline is not rebuilt again"


async def test_sources_appear_and_disappear_with_the_store(clock: Clock) -> None:
    store = feed(clock)
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        store.add_source("late", "host", 1.0, specs=HOST_SPECS)
        app.tick()
        await pilot.pause()
        assert "pending: first collection not finished" in panel_text(app)["late"]
        store.remove_source("web")
        app.tick()
        await pilot.pause()
        assert list(panel_text(app)) == ["host", "cache", "late"]


async def test_grid_reflows_with_the_terminal_width(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        grid = app.screen.query_one("#grid", Grid)
        assert grid.styles.grid_size_columns == 1
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert grid.styles.grid_size_columns == 3
        panels = list(app.screen.query(SourcePanel))
        assert len({panel.region.y for panel in panels}) == 1, "three panels side by side"


async def test_filter_hides_sources_and_series_and_escape_clears_it(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"disk")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).has_focus
        text = panel_text(app)
        assert list(text) == ["host"]
        assert "disk usage /" in text["host"] and "cpu usage" not in text["host"]
        await pilot.press("escape")
        await pilot.pause()
        assert list(panel_text(app)) == ["host", "web", "cache"]
        assert not app.screen.query_one("#filter", Input).display
        await pilot.press("slash", *"cach", "enter")
        await pilot.pause()
        assert list(panel_text(app)) == ["cache"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.filter_text == ""
        assert list(panel_text(app)) == ["host", "web", "cache"]


async def test_pause_freezes_the_display_while_the_store_moves_on(clock: Clock) -> None:
    store = feed(clock, down=False)
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        frozen_version = store.snapshot().version
        await pilot.press("p")
        banner = app.screen.query_one("#pause-banner")
        assert banner.display
        clock.now += 1
        store.publish("host", up(clock.now, 98), host_series(0))
        app.tick()
        assert "1.0s and 1 version behind live" in str(banner.render()), "not `1 versions`"
        clock.now += 2
        store.publish("host", up(clock.now, 99), {**host_series(0), ("host_memory_used_bytes", ()): 2**30})
        store.publish("web", SourceHealth(up=False, last_attempt=clock.now, last_error="boom"))
        app.tick()
        assert "3.23 GiB" in panel_text(app)["host"]
        assert "● up" in panel_text(app)["web"]
        text = str(banner.render())
        assert f"PAUSED on snapshot v{frozen_version}" in text
        assert "3.0s and 3 versions behind live" in text
        await pilot.press("p")
        await pilot.pause()
        assert not banner.display
        assert "1 GiB" in panel_text(app)["host"]
        assert "down, retrying now" in panel_text(app)["web"]


async def test_theme_from_config_and_toggle(clock: Clock) -> None:
    app = make_app(feed(clock), clock, theme="textual-light")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-light"
        await pilot.press("t")
        assert app.theme == "textual-dark"
        await pilot.press("t")
        assert app.theme == "textual-light"


async def test_unknown_theme_falls_back_with_a_notification(clock: Clock) -> None:
    app = make_app(feed(clock), clock, theme="no-such-theme")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        assert any("unknown theme 'no-such-theme'" in n.message for n in app._notifications)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_keys_exit_cleanly(clock: Clock, key: str) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


async def test_click_on_a_panel_opens_its_detail(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#panel-cache")
        await pilot.pause()
        assert app.screen.id == "detail" and app.screen.source_name == "cache"


async def test_up_and_down_move_a_grid_row_left_and_right_a_panel_and_enter_opens_it(clock: Clock) -> None:
    """↓ moved to the panel on the right, not to the one below it. Five panels in two columns:
    host web / cache extra1 / extra2."""
    store = feed(clock)
    for name in ("extra1", "extra2"):
        store.add_source(name, "host", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
        store.publish(name, up(clock.now), host_series(0))
    app = make_app(store, clock)

    async def focus_after(*keys: str) -> str:
        await pilot.press(*keys)
        await pilot.pause()
        return app.focused.id.removeprefix("panel-")

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(Grid).styles.grid_size_columns == 2
        assert app.focused.id == "panel-host"
        assert await focus_after("down") == "cache"
        assert await focus_after("down") == "extra2"
        assert await focus_after("down") == "extra2", "the last row: the focus stays"
        assert await focus_after("up") == "cache"
        assert await focus_after("right") == "extra1"
        assert await focus_after("down") == "extra2", "no panel below: the shorter last row's last"
        assert await focus_after("k") == "cache"
        assert await focus_after("k") == "host"
        assert await focus_after("k") == "host", "the first row: the focus stays"
        assert await focus_after("j", "right") == "extra1"
        assert await focus_after("left") == "cache", "← and → go by one panel, in reading order"
        assert await focus_after("up") == "host"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.id == "detail" and app.screen.source_name == "host"
        await pilot.press("escape", "slash", "j", "k")  # typed into the filter, not moving the focus
        await pilot.pause()
        assert app.filter_text == "jk"
        await pilot.press("escape", "escape")
        keys = app.screen.active_bindings  # what the palette's Keys panel lists
        assert keys["j"].binding.action == keys["down"].binding.action == "focus_below"
        assert keys["k"].binding.action == keys["up"].binding.action == "focus_above"
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "↓, j\nFocus the panel below" in text and "↑, k\nFocus the panel above" in text


async def test_partial_errors_show_on_the_panel_and_in_full_on_the_detail_screen(clock: Clock) -> None:
    store = feed(clock, down=False, stale=False)
    errors = ("check failed: status 500, expected 200-399", "api_missing: JSONPath $.nope matched nothing")
    store.publish("web", dataclasses.replace(up(clock.now, 31), partial_errors=errors))
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        web = panel_text(app)["web"]
        assert "● up, 2 partial errors" in web and "check failed: status 500" in web
        assert "JSONPath" not in web, "the panel has room for the first one only"
        assert "partial" not in panel_text(app)["host"]
        app.open_detail("web")
        await pilot.pause(0.2)
        title = app.screen.query_one("#detail-title").render().plain
        assert "partial error: check failed: status 500, expected 200-399" in title
        assert "partial error: api_missing: JSONPath $.nope matched nothing" in title


async def test_the_detail_screen_of_a_down_source_says_why(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_detail("web")
        await pilot.pause(0.2)
        title = app.screen.query_one("#detail-title").render().plain
        assert "error: connection refused: http://127.0.0.1:9/health" in title


async def test_the_header_keeps_the_exporter_url_on_an_80_column_terminal(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        header = str(app.screen.query_one("#status").render())
        assert header.startswith("testhost · v") and header.endswith(EXPORTER_URL)
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        header = str(app.screen.query_one("#status").render())
        assert header.startswith("monitor · testhost · snapshot v") and f"exporter {EXPORTER_URL}" in header
        await pilot.resize_terminal(40, 24)  # too narrow for the URL: whole parts, no stray "·"
        await pilot.pause()
        header = str(app.screen.query_one("#status").render())
        assert header.startswith("testhost · v") and header.endswith(" old"), header


async def test_a_filter_that_matches_nothing_says_so(clock: Clock) -> None:
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        message = app.screen.query_one("#no-match")
        assert not message.display
        app.set_filter('["\\')
        await pilot.pause()
        assert panel_text(app) == {}
        # as typed: repr() doubled the backslash
        assert message.display and """no source or series matches '["\\';""" in str(message.render())
        app.set_filter("")
        await pilot.pause()
        assert not message.display and len(panel_text(app)) == 3


async def test_after_a_filter_that_matches_nothing_keys_reach_the_screen(clock: Clock) -> None:
    """With no panel left to focus, Enter kept the focus in the filter: `a`, `4`, `s` were typed
    into it (`nomatcha4s`) instead of acting."""
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"nomatch", "enter")
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.filter_text == "nomatch" and app.screen.id == "costs"


async def test_panels_use_the_rows_the_screen_has(clock: Clock) -> None:
    """The default dashboard (one system source) showed ten rows and '+N more' on a 40-row
    terminal, leaving thirty rows empty; a panel now grows to what the screen holds, and with
    many panels each keeps ten. Every key metric keeps a row (on 16 cores the cores took all
    ten)."""
    store = MetricsStore(history=900.0, clock=clock)
    host = many_core_host(16)
    for name in ("local", *(f"other{i}" for i in range(5))):
        store.add_source(name, "system", 1.0, specs=host.specs, health=SourceHealth(stale_after=3.0))
        store.publish(name, up(NOW), dict(host.series))
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_filter("local")
        await _settle(app, pilot)
        lines = panel_text(app)["local"].splitlines()
        assert len(lines) == 1 + len(host.series) and "more" not in lines[-1], "every series, no '+N more'"
        await pilot.resize_terminal(80, 24)
        await _settle(app, pilot)
        panel = app.screen.query_one("#panel-local", SourcePanel)
        assert panel.outer_size.height <= app.screen.query_one("#overview-scroll").size.height
        lines = panel_text(app)["local"].splitlines()
        rows = [line.split("  ")[0] for line in lines[1:-1]]
        assert len(rows) > 10 and lines[-1] == f"+{len(host.series) - len(rows)} more: Enter for all"
        assert {"load1", "memory usage", "disk usage /", "network received eth0"} <= set(rows)
        assert rows[0] == "cpu usage total"
        app.set_filter("")  # six panels, one column: each keeps the ten rows it always had
        await _settle(app, pilot)
        assert {len(text.splitlines()) for text in panel_text(app).values()} == {12}


async def _settle(app: MonitorApp, pilot: Pilot) -> None:
    await pilot.pause()
    app.tick()
    await pilot.pause()


def _in_view(app: MonitorApp, panel: SourcePanel) -> bool:
    scroll = app.screen.query_one("#overview-scroll")
    region = panel.virtual_region
    return scroll.scroll_y <= region.y and region.bottom <= scroll.scroll_y + scroll.size.height


async def test_the_focused_panel_stays_focused_and_in_view_after_the_filter_is_cleared(clock: Clock) -> None:
    """Escape after `/name` Enter focused the panel after the one filtered to, off screen, so
    Enter opened a source nobody could see."""
    store = MetricsStore(history=900.0, clock=clock)
    for i in range(30):
        store.add_source(f"s{i:02}", "host", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
        store.publish(f"s{i:02}", up(NOW), host_series(0))
    app = make_app(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:  # one column of panels, most off screen
        await _settle(app, pilot)
        await pilot.press("slash", *"s09", "enter")
        await _settle(app, pilot)
        target = app.screen.query_one("#panel-s09", SourcePanel)
        assert app.screen.focused is target
        await pilot.press("escape")
        await _settle(app, pilot)
        assert app.filter_text == "" and app.screen.focused is target and _in_view(app, target)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.id == "detail" and app.screen.source_name == "s09"


@pytest.mark.parametrize(("start", "resized"), [((80, 24), (200, 60)), ((200, 60), (80, 24))])
async def test_the_focused_panel_stays_in_view_when_the_terminal_is_resized(
    clock: Clock, start: tuple[int, int], resized: tuple[int, int]
) -> None:
    """The grid reflows to another number of columns: the panel one was on moved off screen,
    and Enter opened a source nobody could see."""
    store = MetricsStore(history=900.0, clock=clock)
    for i in range(37):
        store.add_source(f"s{i:02}", "host", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
        store.publish(f"s{i:02}", up(NOW), host_series(0))
    app = make_app(store, clock)
    async with app.run_test(size=start) as pilot:
        await _settle(app, pilot)
        target = app.screen.query_one("#panel-s29", SourcePanel)
        target.focus()
        await _settle(app, pilot)
        assert _in_view(app, target)
        await pilot.resize_terminal(*resized)
        deadline = time.monotonic() + 5  # the grid's columns, then the panels' row budget: relayouts
        while not _in_view(app, target):
            assert time.monotonic() < deadline, "the focused panel was left out of view"
            await _settle(app, pilot)
        assert app.screen.focused is target
        for _ in range(3):  # and it stays there once the layout has settled
            await _settle(app, pilot)
        assert _in_view(app, target)


async def test_enter_is_not_offered_while_a_filter_hides_every_panel(clock: Clock) -> None:
    """The footer said `⏎ Detail` under `no source or series matches 'xyzq'`, and Enter did
    nothing."""
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        assert "Detail" in footer_row(app)
        await pilot.press("slash", *"xyzq", "enter")
        await _settle(app, pilot)
        assert "Detail" not in footer_row(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.id == "overview"
        await pilot.press("escape")
        await _settle(app, pilot)
        assert "Detail" in footer_row(app)


async def test_after_the_mouse_wheel_scrolls_away_a_relayout_leaves_the_view_where_it_is(
    clock: Clock,
) -> None:
    """Bringing the focused panel back into view after every relayout must stop once the user
    scrolls away from it with the wheel, until the focus moves again."""
    store = MetricsStore(history=900.0, clock=clock)
    for i in range(37):
        store.add_source(f"s{i:02}", "host", 1.0, specs=HOST_SPECS, health=SourceHealth(stale_after=3.0))
        store.publish(f"s{i:02}", up(NOW), host_series(0))
    app = make_app(store, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        target = app.screen.query_one("#panel-s29", SourcePanel)
        target.focus()
        await _settle(app, pilot)
        assert _in_view(app, target)
        for _ in range(10):
            await pilot._post_mouse_events([MouseScrollUp], widget="#overview-scroll")
        await _settle(app, pilot)
        assert not _in_view(app, target)
        store.add_source("late", "host", 1.0, specs=HOST_SPECS)  # a new panel: a relayout
        store.publish("late", up(NOW), host_series(0))
        await _settle(app, pilot)
        assert app.screen.query("#panel-late") and not _in_view(app, target)
        await pilot.press("down")
        await _settle(app, pilot)
        assert _in_view(app, app.screen.query_one("#panel-s30", SourcePanel))


async def test_a_lone_panel_takes_the_width_its_sparklines_need(clock: Clock) -> None:
    """One panel kept 52 columns of a 160-column terminal: the default panel's long labels
    (`network transmitted eth0`) squeezed its sparklines to 11 collections of the 24."""
    store = MetricsStore(history=900.0, clock=clock)
    publish_every_second(
        store, clock, "local", {("network_transmitted_bytes_on_the_long_named_interface", ()): 1.0}, 30
    )
    app = make_app(store, clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await _settle(app, pilot)
        [row] = panel_text(app)["local"].splitlines()[1:]
        spark = row.rstrip().rsplit(" ", 1)[-1]
        assert len(spark) == 30 and set(spark) <= set(SPARK_CHARS), "all the history it has"
        assert row.endswith(f" 1 {spark}"), "the label has the room the history does not fill"
        store.add_source("other", "host", 1.0, specs=HOST_SPECS)  # two panels: two columns
        store.publish("other", up(NOW), host_series(0))
        await _settle(app, pilot)
        assert app.screen.query_one(Grid).styles.grid_size_columns == 2


async def test_each_sparkline_fills_the_width_its_panel_leaves(clock: Clock) -> None:
    """Sparklines held 24 collections whatever the room: at 120 columns a panel of short
    labels left blank columns between its labels and values. Each panel's sparklines take the
    columns its own longest label leaves, up to the history there is."""
    store = MetricsStore(history=900.0, clock=clock)
    publish_every_second(store, clock, "short", {("up", ()): 1.0, ("rtt_seconds", ()): 0.01}, 120)
    long_labels = {("network_transmitted_bytes_on_eth0", ()): 1.0, ("load1", ()): 0.5}
    publish_every_second(store, clock, "long", long_labels, 120)
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        for name, longest in (
            ("short", len("rtt")),
            ("long", len("network transmitted bytes on eth0")),
        ):
            panel = app.screen.query_one(f"#panel-{name}", SourcePanel)
            width = panel.content_size.width
            rows = panel.render().plain.splitlines()[1:]
            sparks = [row.rsplit(" ", 1)[-1] for row in rows]
            expected = width - VALUE_WIDTH - 2 - longest
            assert expected > 24 if name == "short" else expected < 24
            assert [len(spark) for spark in sparks] == [expected] * 2, (name, rows)
            assert all(cell_len(row) == width for row in rows), "and no blank column is left"
