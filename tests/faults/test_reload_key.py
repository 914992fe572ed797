"""The dashboard's `r` key reloads the config like SIGHUP and tells the outcome in a
notification: what changed, or each problem with file:line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from textual.notifications import Notification
from textual.pilot import Pilot

from monitor.alerts.definitions import Level
from monitor.config import load_config
from monitor.runtime import Runtime
from monitor.tui.app import MonitorApp
from monitor.tui.logbuffer import LogBuffer
from monitor.tui.panel import SourcePanel

SOURCE = "  - {{name: {name}, collector: command, argv: [echo, '1'], interval: 200ms}}\n"


@contextlib.asynccontextmanager
async def dashboard_over(config: Path, **options: object) -> AsyncIterator[tuple[Runtime, MonitorApp, Pilot]]:
    """The real engine on `config` under the dashboard in a 120x40 test terminal."""
    runtime = Runtime(load_config(str(config)))
    runtime.start()
    try:
        app = MonitorApp.from_runtime(runtime, **options)
        async with app.run_test(size=(120, 40)) as pilot:
            yield runtime, app, pilot
    finally:
        runtime.stop()


async def wait_for_notification(app: MonitorApp, pilot, text: str, deadline: float = 15.0) -> Notification:
    """The notification containing `text` (the app's list, as the dashboard's own tests read it)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = next((n for n in app._notifications if text in n.message), None)
        if found is not None:
            return found
        await pilot.pause(0.1)
    shown = [n.message for n in app._notifications]
    raise AssertionError(f"no notification containing {text!r} within {deadline}s; shown: {shown}")


async def test_r_reloads_and_reports_success_and_errors(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + SOURCE.format(name="one"))
    async with dashboard_over(config) as (runtime, app, pilot):
        config.write_text("sources:\n" + SOURCE.format(name="one") + SOURCE.format(name="two"))
        await pilot.press("r")
        shown = await wait_for_notification(app, pilot, "reloaded")
        assert "sources 1 added (two), 0 removed, 0 restarted, 1 unchanged;" in shown.message
        assert shown.severity == "information"
        assert "two" in runtime.store.snapshot().sources

        config.write_text("sources:\n  - {name: one, collector: command, argv: [echo, '1'], intervall: 1s}\n")
        await pilot.press("r")
        shown = await wait_for_notification(app, pilot, "reload failed")
        assert f"{config}:2:" in shown.message and "did you mean 'interval'" in shown.message
        assert shown.severity == "error"
        await pilot.pause(0.5)  # the reloader's own error log line would be a second toast
        assert sum("did you mean 'interval'" in n.message for n in app._notifications) == 1
        assert "Reload config" in [c.title for c in app.get_system_commands(app.screen)]
        assert not runtime.reload_status.ok
        assert set(runtime.store.snapshot().sources) == {"one", "two"}  # the running config carries on
        # The toast goes away; the header keeps saying the file is not what runs, until it is.
        banner = app.screen.config_banner
        await wait_for(pilot, lambda: banner.display, "the failed-reload banner")
        assert "config reload failed" in banner.text and f"{config}:2:" in banner.text
        config.write_text("sources:\n" + SOURCE.format(name="one"))
        await pilot.press("r")
        await wait_for(pilot, lambda: not banner.display, "the banner to go once a reload succeeds")


async def test_a_renamed_source_keeps_its_place_in_the_overview(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + "".join(SOURCE.format(name=n) for n in ("one", "two", "three")))
    async with dashboard_over(config) as (_runtime, app, pilot):
        config.write_text("sources:\n" + "".join(SOURCE.format(name=n) for n in ("one", "second", "three")))
        await pilot.press("r")
        await wait_for_notification(app, pilot, "reloaded")

        def panel_order() -> list[str]:
            return [p.source_name for p in app.screen.query(SourcePanel) if p.is_attached]

        await wait_for(
            pilot, lambda: panel_order() == ["one", "second", "three"], "panels in the config's order"
        )
        app.screen.query_one("#panel-one", SourcePanel).focus()
        await pilot.press("right")  # the focus moves in the grid's order too (↓ is a grid row down)
        assert isinstance(app.focused, SourcePanel) and app.focused.source_name == "second"


LINES = "  - {{name: one, collector: command, argv: [printf, 'low 1\\nhigh 5\\n'], format: lines, interval: 200ms{extra}}}\n"


async def wait_for(pilot, condition, what: str, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline}s: {what}")
        await pilot.pause(0.1)


def panel_rows(app: MonitorApp) -> dict[str, Level]:
    panel = app.screen.query_one(SourcePanel)
    return {row.label: row.level for row in panel.view.rows} if panel.view is not None else {}


async def test_a_reload_applies_show_thresholds_theme_and_refresh_to_the_open_dashboard(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + LINES.format(extra=", show: [low]"))
    async with dashboard_over(config) as (_runtime, app, pilot):
        await wait_for(pilot, lambda: "low" in panel_rows(app), "the panel shows the series `show` names")
        assert "high" not in panel_rows(app) and app.theme == "textual-dark"

        config.write_text(
            "dashboard: {theme: textual-light, refresh: 100ms, bell: true}\nsources:\n"
            + LINES.format(extra=", show: [high], thresholds: {high: {warning: 2, critical: 10}}")
        )
        await pilot.press("r")
        shown = await wait_for_notification(app, pilot, "reloaded")
        assert "0 restarted, 1 unchanged;" in shown.message  # `show` is the dashboard's
        await wait_for(pilot, lambda: "high" in panel_rows(app), "the panel follows the new `show`")
        assert panel_rows(app) == {"high": Level.WARNING}  # coloured by the new threshold
        assert app.theme == "textual-light" and app.refresh_interval == 0.1 and app.bell_on_firing
        ticks = app.refreshes
        await wait_for(pilot, lambda: app.refreshes >= ticks + 5, "the dashboard goes on refreshing")

        # Changing only a threshold restarts no poller, and the colour still follows it.
        config.write_text(
            "dashboard: {theme: textual-light, refresh: 100ms, bell: true}\nsources:\n"
            + LINES.format(extra=", show: [high], thresholds: {high: {warning: 6}}")
        )
        await pilot.press("r")
        await wait_for(pilot, lambda: sum("reloaded" in n.message for n in app._notifications) == 2, "2nd")
        await wait_for(pilot, lambda: panel_rows(app) == {"high": Level.OK}, "the colour follows a threshold")


async def test_a_reload_from_outside_the_dashboard_is_reported_in_it(tmp_path: Path) -> None:
    """SIGHUP, `monitor reload` and --watch reload on another thread: the dashboard still says
    how it went, as for `r`. A source going down is on its badge, not in a toast."""
    config = tmp_path / "config.yaml"
    failing = "  - {name: failing, collector: command, argv: ['false'], interval: 200ms}\n"
    config.write_text("sources:\n" + SOURCE.format(name="one") + failing)
    buffer = LogBuffer()
    logging.getLogger().addHandler(buffer)
    try:
        async with dashboard_over(config, log_buffer=buffer) as (runtime, app, pilot):
            await pilot.pause(0.3)
            assert not any("reload" in n.message for n in app._notifications), "nothing at startup"
            await wait_for(
                pilot, lambda: any("'failing' is down" in line.text for line in buffer.since(0)), "down"
            )
            assert not any("is down" in n.message for n in app._notifications)
            config.write_text("sources:\n" + SOURCE.format(name="one") + failing + SOURCE.format(name="two"))
            await asyncio.to_thread(runtime.reload)
            shown = await wait_for_notification(app, pilot, "reloaded")
            assert "1 added (two)" in shown.message and shown.severity == "information"

            config.write_text("sources: [{name: one, collector: nope}]\n")
            await asyncio.to_thread(runtime.reload)
            shown = await wait_for_notification(app, pilot, "reload failed")
            assert "unknown collector 'nope'" in shown.message and shown.severity == "error"
            assert sum("reloaded" in n.message for n in app._notifications) == 1, "each reload told once"
            await pilot.pause(0.5)
            assert sum("unknown collector 'nope'" in n.message for n in app._notifications) == 1
    finally:
        logging.getLogger().removeHandler(buffer)


async def test_a_reload_whose_settings_wait_for_a_restart_is_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + SOURCE.format(name="one"))
    async with dashboard_over(config) as (_runtime, app, pilot):
        config.write_text("history: 5m\nsources:\n" + SOURCE.format(name="one"))
        await pilot.press("r")
        shown = await wait_for_notification(app, pilot, "reloaded")
        assert "history settings changed" in shown.message and "next restart" in shown.message
        assert shown.severity == "warning"


async def test_the_dashboard_quits_at_once_while_a_reload_is_still_running(tmp_path: Path) -> None:
    """A reload can take long (a plugin whose import blocks, a huge file): `q` must not wait
    for it. It did when `r` ran the reload in a Textual worker: a thread the interpreter waits
    for at exit, so the process outlived its blank screen until the reload ended."""
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + SOURCE.format(name="one"))
    loading = threading.Event()
    release = threading.Event()

    def slow_load(path: str | None):
        loading.set()
        release.wait(30)
        return load_config(path)

    try:
        async with dashboard_over(config) as (runtime, app, pilot):
            runtime.reloader._load = slow_load
            await pilot.press("r")
            await wait_for(pilot, loading.is_set, "the reload to start")
            started = time.monotonic()
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, "the dashboard to quit", deadline=5.0)
        assert time.monotonic() - started < 3.0
        waited_for_at_exit = [
            t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()
        ]
        assert waited_for_at_exit == []
    finally:
        release.set()


async def test_a_reload_while_paused_waits_for_resume(tmp_path: Path) -> None:
    """Applied to the frozen snapshot, a reload's `show` mixed the new config with data
    collected under the old one; the banner says a reload is waiting, `p` applies it."""
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + LINES.format(extra=", show: [low]"))
    async with dashboard_over(config) as (_runtime, app, pilot):
        await wait_for(pilot, lambda: "low" in panel_rows(app), "the panel shows the series `show` names")
        await pilot.press("p")
        banner = app.screen.banner
        assert banner.display and banner.text.endswith("p resumes.")
        assert banner.size.height == 1
        config.write_text("sources:\n" + LINES.format(extra=", show: [high]"))
        await pilot.press("r")
        await wait_for_notification(app, pilot, "reloaded")
        await wait_for(pilot, lambda: "applies the config reloaded since" in banner.text, "the banner")
        await pilot.pause()
        assert banner.size.height == 2, "the banner grows into the line its longer text needs"
        assert list(panel_rows(app)) == ["low"], "the frozen panel keeps the settings it was drawn with"
        await pilot.press("p")
        await pilot.pause()
        assert not banner.display and list(panel_rows(app)) == ["high"]


async def test_a_source_removed_while_paused_keeps_its_frozen_sparklines(tmp_path: Path) -> None:
    """The store drops a removed source's history at once: a redraw of its frozen panel (after
    a resize) blanked its sparklines while its values stayed."""
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n" + SOURCE.format(name="one") + SOURCE.format(name="two"))
    async with dashboard_over(config) as (runtime, app, pilot):

        def history_of_two() -> tuple[float, ...]:
            panel = app.screen.query_one("#panel-two", SourcePanel)
            return panel.view.rows[0].history if panel.view is not None and panel.view.rows else ()

        await wait_for(pilot, lambda: len(history_of_two()) >= 3, "a few points of history")
        await pilot.press("p")
        frozen = history_of_two()
        config.write_text("sources:\n" + SOURCE.format(name="one"))
        await pilot.press("r")
        await wait_for_notification(app, pilot, "reloaded")
        await wait_for(pilot, lambda: "two" not in runtime.store.snapshot().sources, "two removed")
        await pilot.resize_terminal(100, 40)
        await pilot.pause(0.3)
        assert history_of_two() == frozen
        await pilot.press("p")
        await wait_for(pilot, lambda: not app.screen.query("#panel-two"), "the panel goes on resume")
