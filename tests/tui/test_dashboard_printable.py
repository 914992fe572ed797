"""Escape sequences a monitored service sends never reach the terminal: a real loopback server
exposes a label value and an exposition error carrying ESC, BEL and a bidi override, real
pollers scrape it, and every screen that shows them draws the visible escape (`\\x1b`) instead."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

from aiohttp import web
from textual.pilot import Pilot

from collectors.prometheus import PrometheusCollector
from monitor.reload import ReloadStatus
from monitor.runtime import Runtime
from monitor.tui.app import MonitorApp, logs_to_the_app
from tests.collectors.conftest import ThreadedServer
from tests.support import config_of

HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x1b[31m\u202eevil"
"""A window title set (OSC ended by BEL), a clear screen, red, and a right-to-left override."""
SHOWN = "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31m\\u202eevil"
EXPOSITION = f'# TYPE demo_up gauge\ndemo_up{{service="{HOSTILE}"}} 1\n'
BROKEN = "demo_up 1\n\x1b]0;PWNED\x1b\\\x1b[2J not a sample\n"
"""Its parse error quotes the bad line: an OSC ended by ST, then a clear screen."""
RAW = ("\x1b", "\x07", "\u202e")

CONFIG = """
sources:
  - {{name: hostile, collector: prometheus, url: "{url}/metrics", interval: 200ms}}
  - {{name: broken, collector: prometheus, url: "{url}/broken", interval: 200ms}}
alerts:
  - name: Hostile
    source: hostile
    metric: demo_up
    op: ">"
    threshold: 0
    summary: "service {{{{ labels.service }}}} is up"
"""


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(text=EXPOSITION, content_type="text/plain")


async def _broken(_request: web.Request) -> web.Response:
    return web.Response(text=BROKEN, content_type="text/plain")


@contextlib.contextmanager
def hostile_server() -> Iterator[ThreadedServer]:
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/broken", _broken)
    with ThreadedServer(app) as server:
        yield server


def rendered(app: MonitorApp) -> str:
    """The terminal's rows as drawn, toasts included: what the driver writes, but for its own
    cursor and colour sequences."""
    return "\n".join(
        "".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()
    )


async def wait_for(pilot: Pilot, what: str, ready: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"never shown: {what}"
        await pilot.pause(0.05)


@contextlib.asynccontextmanager
async def dashboard_over_a_hostile_server() -> AsyncIterator[tuple[MonitorApp, Pilot]]:
    """The dashboard over real pollers of the hostile server, its log captured as
    run_dashboard captures it."""
    with hostile_server() as server:
        runtime = Runtime(config_of(CONFIG.format(url=server.url), PrometheusCollector))
        try:
            with logs_to_the_app() as buffer:
                runtime.start()
                app = MonitorApp.from_runtime(runtime, host="testhost", blink=False, log_buffer=buffer)
                async with app.run_test(size=(160, 50)) as pilot:
                    yield app, pilot
        finally:
            runtime.stop()


def assert_printable(text: str) -> None:
    for character in RAW:
        assert character not in text, f"{character!r} reached the terminal"


async def test_hostile_label_values_and_errors_are_drawn_as_visible_escapes() -> None:
    async with dashboard_over_a_hostile_server() as (app, pilot):
        # The overview: the panel's label ends in the value, the badge quotes the parse error.
        await wait_for(pilot, "the label value", lambda: "\\x1b]0;PWNED" in rendered(app))
        await wait_for(pilot, "the parse error", lambda: "invalid exposition text" in rendered(app))
        await wait_for(pilot, "the alert bar", lambda: "FIRING" in rendered(app))
        screen = rendered(app)
        assert_printable(screen)
        assert "\\x1b]0;PWNED\\x1b\\\\\\x1b[2J" in screen  # the OSC ended by ST, visible
        assert "\\u202eevil" in screen
        # The detail table and the chart's title name the series in full.
        await pilot.press("enter")
        await wait_for(pilot, "the detail screen", lambda: app.screen.id == "detail")
        await wait_for(pilot, "the series' name", lambda: f'demo_up{{service="{SHOWN}"}}' in rendered(app))
        assert_printable(rendered(app))
        # The detail of the broken source: the error in full.
        await pilot.press("escape")
        app.open_detail("broken")
        await wait_for(pilot, "the error in full", lambda: "error: http://" in rendered(app))
        assert_printable(rendered(app))
        # The log: the scheduler's "source 'broken' is down: ..." line.
        await pilot.press("l")
        await wait_for(pilot, "the log line", lambda: "source 'broken' is down" in rendered(app))
        assert_printable(rendered(app))
        assert "\\x1b]0;PWNED\\x1b\\\\" in rendered(app)
        # The alerts screen: the labels column and the summary.
        await pilot.press("a")
        await wait_for(pilot, "the alerts screen", lambda: "service \\x1b]0;PWNED" in rendered(app))
        assert_printable(rendered(app))


async def test_notifications_and_the_reload_banner_are_printable() -> None:
    """Toasts quote log messages (a warning formatted from a server's text) and a reload's
    errors: every notification is printable, whichever way it comes; so is the banner that
    quotes a failed reload's first error."""
    async with dashboard_over_a_hostile_server() as (app, pilot):
        logging.getLogger("monitor.test").warning("the server said %s", HOSTILE)
        app.notify(f"reload: {HOSTILE}", title=HOSTILE, severity="error", markup=False)

        def messages() -> list[str]:
            return [text for n in app._notifications for text in (n.message, n.title)]

        await wait_for(pilot, "the toast", lambda: f"the server said {SHOWN}" in messages())
        assert f"reload: {SHOWN}" in messages()
        assert_printable("".join(messages()))
        now = time.time()
        app.failed_reload = ReloadStatus(False, now, now, "reload failed", (f"config.yaml:3:5: {HOSTILE}",))
        await wait_for(pilot, "the reload banner", lambda: f"config.yaml:3:5: {SHOWN}" in rendered(app))
        assert_printable(rendered(app))
