"""The monitoring cost and threads screen over real pollers, one of them stuck in a collection."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Iterable

from prometheus_client import CollectorRegistry
from textual.pilot import Pilot
from textual.widgets import DataTable

from monitor.model import Sample, SourceHealth
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.runtime import Runtime
from monitor.tui.app import MonitorApp
from tests.support import config_of
from tests.tui.dashboard_support import make_app, screen_text
from tests.tui.feed import Clock, feed


class StuckCollector(Collector[CollectorOptions]):
    """Ignores its timeout until the test releases it: what a hung collector looks like."""

    name = "stuck"
    description = "blocks until released"
    release = threading.Event()

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        wait_for_the_test_to_release(type(self).release)
        return []


def wait_for_the_test_to_release(event: threading.Event) -> None:
    event.wait(30)


def rows_by_name(table: DataTable) -> dict[str, list[str]]:
    """A table's rows as text, keyed by their first cell (a source or a thread)."""
    rows = (table.get_row_at(i) for i in range(table.row_count))
    return {str(row[0]): [str(cell) for cell in row[1:]] for row in rows}


CONFIG = """
sources:
  - {name: fine, collector: scripted, interval: 200ms, timeout: 100ms}
  - {name: frozen, collector: stuck, interval: 200ms, timeout: 100ms}
"""


@contextlib.asynccontextmanager
async def costs_with_a_hung_poller(
    config: str = CONFIG, size: tuple[int, int] = (140, 40)
) -> AsyncIterator[tuple[Runtime, MonitorApp, Pilot]]:
    """The real pollers of `config` under the dashboard, on the cost screen once the stack of
    the poller `frozen` (stuck until the test ends) shows there."""
    StuckCollector.release.clear()
    runtime = Runtime(config_of(config, StuckCollector))
    runtime.start()
    app = MonitorApp.from_runtime(runtime, host="testhost", blink=False)
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.press("c")
            deadline = time.monotonic() + 10
            while "Stack of poller:frozen (hung)" not in str(app.screen.stacks.render()):
                assert time.monotonic() < deadline, "the hung poller's stack never appeared"
                await pilot.pause(0.1)
            yield runtime, app, pilot
    finally:
        StuckCollector.release.set()
        runtime.stop()


async def test_costs_and_the_stack_of_a_hung_poller() -> None:
    async with costs_with_a_hung_poller() as (_runtime, app, pilot):
        deadline = time.monotonic() + 10
        stacks = str(app.screen.stacks.render())
        assert "in wait_for_the_test_to_release" in stacks
        assert "poller:fine" not in stacks
        threads = {name: cells[0] for name, cells in rows_by_name(app.screen.threads).items()}
        assert threads["poller:frozen"].startswith("HUNG: collecting for")
        assert "past its 0.1s timeout" in threads["poller:frozen"]
        assert threads["poller:fine"].startswith(("sleeping until", "sleeping, due now", "collecting for"))
        costs = rows_by_name(app.screen.costs)
        assert costs["fine"][0:2] == ["scripted", "0.2s"]
        assert int(costs["fine"][8]) >= 1, "collections are counted"
        assert int(costs["frozen"][4]) >= 1, "the hang counts as an error"
        while not str(app.screen.costs.get_row_at(0)[4]).endswith(" %"):
            assert time.monotonic() < deadline, "the CPU share was never measured"
            await pilot.pause(0.1)
        # The pollers' shares leave out drawing and the exporter: the whole process is named too.
        while "measuring" in (title := str(app.screen.cost_title.render())):
            assert time.monotonic() < deadline, "the process's CPU was never measured"
            await pilot.pause(0.1)
        assert re.fullmatch(
            r"Monitoring cost per source · the whole process: \d+\.\d\d % of a core \(CPU/s: each poller's own\)",
            title,
        ), title
        await pilot.press("slash", *"froz", "enter")  # `/` filters this screen's rows too
        await pilot.pause(0.3)
        assert list(rows_by_name(app.screen.costs)) == ["frozen"]
        assert list(rows_by_name(app.screen.threads)) == ["poller:frozen"]
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Reload the config file" in screen_text(app)


async def test_threads_view_without_pollers_says_so() -> None:
    clock = Clock()
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert str(app.screen.threads.get_row_at(0)[1]) == "no pollers in this process"
        await pilot.press("escape")
        assert app.screen.id == "overview"


async def test_cpu_share_waits_for_a_whole_interval_before_showing_a_rate() -> None:
    """The CPU count moves once per collection: a look shorter than an interval would read
    0 % for a source that costs something."""
    clock = Clock()
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert str(app.screen.costs.get_row_at(0)[4]) == "measuring…"
        clock.now += 1.0  # the sources' interval
        app.tick()
        assert str(app.screen.costs.get_row_at(0)[4]) == "0.00 %"


async def test_a_slow_source_gets_a_cpu_share_too() -> None:
    """A source polled every minute moves its CPU count once a minute: a 10 s window alone
    would never hold two readings of it."""
    clock = Clock()
    store = feed(clock)
    store.add_source("slow", "host", 60.0, health=SourceHealth(stale_after=180.0))
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        for _ in range(7):  # 70 s, a tick every 10 s
            clock.now += 10.0
            app.tick()
        assert rows_by_name(app.screen.costs)["slow"][3] == "0.00 %"


async def test_a_long_source_name_leaves_the_failure_columns_on_a_120_column_screen() -> None:
    """A 72-character name widened the first column until errors and backoff were cut off."""
    clock = Clock()
    store = feed(clock)
    long_name = "payments-gateway-healthcheck-eu-west-1-primary-cluster-blue-with-a-long-tail"
    store.add_source(long_name, "http", 1.0, health=SourceHealth(stale_after=3.0))
    failing = SourceHealth(
        up=False, collections=9, errors_total=8, consecutive_failures=8, last_attempt=clock.now,
        next_attempt=clock.now + 4, last_error="refused", stale_after=3.0,
    )  # fmt: skip
    store.publish(long_name, failing)
    app = make_app(store, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        table = app.screen.costs
        widths = {str(column.label): column.get_render_width(table) for column in table.columns.values()}
        through_backoff = list(widths)[: list(widths).index("backoff") + 1]
        assert sum(widths[label] for label in through_backoff) <= 120, widths
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        [row] = [row for row in rows if row[0].startswith("payments")]
        assert row[0] == "payments-ga…-a-long-tail"  # both ends kept, so alike names differ
        assert row[5:7] == ["8", "retry in 4.0s (8 failed)"]


async def test_a_hung_poller_a_reload_removed_stays_in_view_until_its_thread_ends() -> None:
    """A reload cannot stop a collector that ignores its timeout; the poller was dropped from
    the thread list at once, so the hang vanished from view while it went on."""
    async with costs_with_a_hung_poller() as (runtime, app, pilot):
        deadline = time.monotonic() + 10
        without_frozen = "sources:\n  - {name: fine, collector: scripted, interval: 200ms, timeout: 100ms}\n"
        runtime.scheduler.apply(config_of(without_frozen, StuckCollector), stop_timeout=0.2)
        app.tick()
        await pilot.pause()
        threads = {name: cells[0] for name, cells in rows_by_name(app.screen.threads).items()}
        assert threads["poller:frozen (old)"].startswith("left running by a reload: HUNG: collecting for")
        stacks = str(app.screen.stacks.render())
        assert "Stack of poller:frozen (old) (left running by a reload: hung)" in stacks
        assert "in wait_for_the_test_to_release" in stacks
        assert "frozen" not in rows_by_name(app.screen.costs), "no longer a source"
        assert left_running_on_metrics(runtime) == 1.0
        StuckCollector.release.set()
        while "poller:frozen (old)" in rows_by_name(app.screen.threads):
            assert time.monotonic() < deadline + 10, "the ended thread stayed in the list"
            app.tick()
            await pilot.pause(0.1)
        assert "No poller is stuck" in str(app.screen.stacks.render())
        assert left_running_on_metrics(runtime) == 0.0


def left_running_on_metrics(runtime) -> float:
    """monitor_pollers_left_running as /metrics writes it (the scheduler is one of the
    exporter's own collectors)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(runtime.scheduler)
    return registry.get_sample_value("monitor_pollers_left_running")


def screen_rows(app: MonitorApp) -> list[str]:
    """The terminal's rows as drawn: what is scrolled out of view is not in them."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def test_the_keys_reach_a_hung_pollers_stack_below_the_fold_without_a_tab_first() -> None:
    """With 30 sources the threads and the hung poller's stack are two screens down, and the
    screen opened with nothing focused: ↓, PageDown and End did nothing until a Tab."""
    many = "".join(
        f"  - {{name: fine{i:02d}, collector: scripted, interval: 200ms, timeout: 100ms}}\n"
        for i in range(32)
    )
    async with costs_with_a_hung_poller(CONFIG + many, size=(120, 40)) as (_runtime, app, pilot):
        deadline = time.monotonic() + 10
        notice = "✖ poller:frozen is stuck in a collection: End shows its stack"
        while notice not in (shown := "\n".join(screen_rows(app))):  # a layout pass after the stack
            assert time.monotonic() < deadline, f"no notice of the stuck poller on screen:\n{shown}"
            await pilot.pause(0.1)
        assert "Stack of poller:frozen" not in shown and "Poller threads" not in shown
        await pilot.press("down", "down")  # a line each: the padding, then the title
        await pilot.pause()
        assert "Monitoring cost per source" not in "\n".join(screen_rows(app)), "↓ scrolls the page"
        await pilot.press("pagedown")
        await pilot.pause()
        assert "poller:fine" in "\n".join(screen_rows(app)), "PageDown reaches the threads"
        await pilot.press("end")
        await pilot.pause()
        shown = "\n".join(screen_rows(app))
        assert "in wait_for_the_test_to_release" in shown, "End shows the stack"
        assert "✖ poller:frozen is stuck" in shown, "the notice stays on screen"
        await pilot.press("home")
        await pilot.pause()
        assert "Monitoring cost per source" in "\n".join(screen_rows(app))


async def test_right_reaches_the_cost_columns_past_the_edge_of_an_80_column_terminal() -> None:
    """The table's own scrolling was put back to its left edge at every refresh, and the table
    took no keys without a Tab: series and collections could not be seen at 80 columns."""
    clock = Clock()
    app = make_app(feed(clock), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        before = screen_rows(app)
        assert "collections" not in "\n".join(before)
        await pilot.press("right")
        app.tick()
        await pilot.pause()
        assert screen_rows(app)[4][:-2] == before[4][1:-1], "→ scrolls the page a column"
        await pilot.press("ctrl+pagedown")  # a page to the right
        app.tick()
        await pilot.pause()
        assert "collections" in "\n".join(screen_rows(app))


async def test_the_tables_are_redrawn_once_a_second_or_when_what_they_list_changes() -> None:
    """Rebuilt at each of the dashboard's 4 refreshes a second, the two tables were rendered
    anew each time: the cost screen took 11 % of a core where the overview took 5 %."""
    clock = Clock()
    store = feed(clock)
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        redraws = []
        clear = screen.costs.clear
        screen.costs.clear = lambda *args, **kwargs: redraws.append(clock.now) or clear(*args, **kwargs)
        for _ in range(8):  # two seconds of refreshes
            clock.now += 0.25
            app.tick()
        assert len(redraws) == 2, redraws
        app.set_filter("web")  # what the table lists changes: at once
        assert len(redraws) == 3 and list(rows_by_name(screen.costs)) == ["web"]
        app.set_filter("")
        store.add_source("new", "host", 1.0, health=SourceHealth(stale_after=3.0))
        app.tick()
        assert len(redraws) == 5 and "new" in rows_by_name(screen.costs)
