"""What watching each source costs, and what each poller thread is doing right now.

The stack of a poller stuck past its timeout is shown here, so a hanging collector can be
diagnosed without attaching a debugger.
"""

from __future__ import annotations

import math
import time
from collections import deque

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from monitor.humanize import format_age, format_duration
from monitor.model import Snapshot, SourceData
from monitor.scheduler import Phase, PollerActivity, Scheduler
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen

CPU_WINDOW = 10.0
"""Seconds over which the poller CPU rate is averaged."""
REDRAW_EVERY = 1.0
"""Seconds between two redraws of the tables, unless what they list changes (a filter, a
source or poller added or gone). Each redraw renders both tables anew, and at the dashboard's
4 per second this screen cost as much CPU as all the rest (11 % of a core with 7 sources, 5 %
on the overview): its figures are averages over 10 s and its countdowns need no more."""
NAME_WIDTH = 24
"""Cells of a source's (or poller thread's) name in the tables: cut in the middle past it. A
72-character name pushed errors, backoff and a hung poller's diagnosis off 120 columns."""


def describe(activity: PollerActivity, timeout: float, now: float) -> str:
    if activity.phase in (Phase.SLEEPING, Phase.BACKING_OFF) and activity.until is not None:
        if activity.until <= now:  # the tick is due: the poller is waking up
            return f"{activity.phase}, due now"
        return f"{activity.phase} until {format_age(activity.until - now)} from now"
    if activity.phase is Phase.COLLECTING:
        return f"collecting for {format_age(now - activity.since)} (timeout {timeout:g}s)"
    if activity.phase is Phase.HUNG:
        return f"HUNG: collecting for {format_age(now - activity.since)}, past its {timeout:g}s timeout"
    return f"{activity.phase} for {format_age(now - activity.since)}"


def is_stuck(activity: PollerActivity, timeout: float, now: float) -> bool:
    return activity.phase is Phase.HUNG or (
        activity.phase is Phase.COLLECTING and now - activity.since > timeout
    )


def _percent(share: float | None) -> str:
    return "measuring…" if share is None else f"{share * 100:.2f} %"


def _read_only_table(id: str) -> DataTable:
    """A table the keys scroll past rather than into. It is rebuilt at every refresh, which put
    a row cursor back on its first row four times a second; focused, it kept ↓ and End to its
    own rows, and the threads and stacks below stayed out of reach."""
    table: DataTable = DataTable(id=id, cursor_type="none", zebra_stripes=True)
    table.can_focus = False
    return table


class CostScreen(DashboardScreen):
    """The page scrolls as one, focused from the start: ↓ ↑, PgDn PgUp, Home End reach the
    threads and stacks below the fold, and ← → the columns past the right edge, without a Tab
    first (nothing was focused, and the keys did nothing)."""

    AUTO_FOCUS = "#costs-scroll"

    def __init__(self) -> None:
        super().__init__(id="costs")
        self._cpu: dict[str, deque[tuple[float, float]]] = {}
        self._process_cpu: deque[tuple[float, float]] = deque()
        self.cost_title = Static(id="cost-title", classes="section", markup=False)
        self._stuck_told = ""
        self._listed: tuple | None = None
        self._drawn_at = -math.inf
        self.costs = _read_only_table("cost-table")
        # What a failing source costs first: at 120 columns the last columns are past the edge.
        self.costs.add_columns(
            "source", "collector", "interval", "last collect", "CPU/s", "errors", "backoff",
            "overruns", "series", "collections",
        )  # fmt: skip
        self.threads = _read_only_table("thread-table")
        self.threads.add_columns("thread", "doing now")
        self.stacks = Static(id="stacks", markup=False)
        self.stuck_notice = Static(id="cost-stuck", markup=False)

    def body(self) -> ComposeResult:
        yield self.stuck_notice
        with VerticalScroll(id="costs-scroll"):
            yield self.cost_title
            yield self.costs
            yield Static("Poller threads", classes="section")
            yield self.threads
            yield self.stacks

    def on_screen_resume(self) -> None:  # before DashboardScreen's, which redraws
        self._listed = None

    def draw(self, snapshot: Snapshot, now: float) -> None:
        clock = self.dashboard.clock()
        listed = (self.dashboard.filter_text, tuple(snapshot.sources), self._pollers())
        if listed == self._listed and clock - self._drawn_at < REDRAW_EVERY:
            return
        self._listed, self._drawn_at = listed, clock
        table = self.costs
        table.clear()
        for name, source in snapshot.sources.items():
            if not v.matches(self.dashboard.filter_text, name, source.collector):
                continue
            health = source.health
            table.add_row(
                v.fit_middle(name, NAME_WIDTH),
                source.collector,
                f"{source.interval:g}s",
                format_duration(health.last_duration) if health.collections else "–",
                _percent(self._cpu_share(name, source, now)),
                str(health.errors_total),
                _backoff(source, now),
                str(health.overruns),
                str(health.series_count),
                str(health.collections),
            )
        self._draw_threads(clock)
        share = self._process_share()
        whole = "measuring…" if share is None else f"{_percent(share)} of a core"
        title = f"Monitoring cost per source · the whole process: {whole} (CPU/s: each poller's own)"
        if title != str(self.cost_title.render()):
            self.cost_title.update(title)

    def _process_share(self) -> float | None:
        """The monitor process's CPU per wall second over CPU_WINDOW: the pollers' share in the
        table leaves out drawing, the exporter and alerts, and read alone it understated what
        watching costs by 10 to 40 times."""
        samples = self._process_cpu
        samples.append((time.monotonic(), time.process_time()))
        while len(samples) > 2 and samples[-1][0] - samples[0][0] > CPU_WINDOW:
            samples.popleft()
        (t0, c0), (t1, c1) = samples[0], samples[-1]
        return None if t1 - t0 < 1.0 else (c1 - c0) / (t1 - t0)

    def _cpu_share(self, name: str, source: SourceData, now: float) -> float | None:
        """Poller CPU seconds per wall second over the last CPU_WINDOW seconds (two intervals
        for a source slower than that); None until the screen has watched for a whole interval:
        the CPU count moves once per collection, so a shorter look reads 0 % for a source that
        costs something."""
        samples = self._cpu.setdefault(name, deque())
        samples.append((now, source.health.cpu_seconds))
        window = max(CPU_WINDOW, 2 * source.interval)  # a slow source needs two collections in it
        while len(samples) > 2 and now - samples[0][0] > window:
            samples.popleft()
        (t0, c0), (t1, c1) = samples[0], samples[-1]
        if t1 - t0 < source.interval:
            return None
        return (c1 - c0) / (t1 - t0)

    def _pollers(self) -> tuple:
        """The poller threads the screen lists: a redraw when one comes or goes."""
        scheduler = self.dashboard.scheduler
        if scheduler is None:
            return ()
        return tuple(map(id, (*scheduler.pollers.values(), *scheduler.left_running())))

    def _draw_threads(self, now: float) -> None:
        threads, stacks = self.threads, self.stacks
        scheduler: Scheduler | None = self.dashboard.scheduler
        threads.clear()
        if scheduler is None:
            threads.add_row("–", "no pollers in this process")
            stacks.update("")
            self._tell_stuck([])
            return
        stuck, stuck_threads = [], []
        pollers = [(poller, "") for poller in scheduler.pollers.values()]
        pollers += [(poller, "left running by a reload: ") for poller in scheduler.left_running()]
        for poller, left in pollers:
            name = poller.source.name
            if not v.matches(self.dashboard.filter_text, name):
                continue
            activity, timeout = poller.activity(), poller.source.timeout
            thread = f"poller:{name}" + (" (old)" if left else "")
            threads.add_row(v.fit_middle(thread, NAME_WIDTH), left + describe(activity, timeout, now))
            if is_stuck(activity, timeout, now):
                stuck.append(f"Stack of {thread} ({left}{activity.phase}):\n{poller.stack()}")
                stuck_threads.append(v.fit_middle(thread, NAME_WIDTH))
        stacks.update("\n".join(stuck) or "No poller is stuck in a collection.")
        stacks.set_class(bool(stuck), "-stuck")
        self._tell_stuck(stuck_threads)

    def _tell_stuck(self, threads: list[str]) -> None:
        """A stuck poller is why one opens this screen, and its stack is at the bottom, below
        both tables: with 30 sources, two screens down. Named above them, with the key that
        gets there. Updated only on change (an update lays out the screen)."""
        if len(threads) == 1:
            text = f"✖ {threads[0]} is stuck in a collection: End shows its stack"
        elif threads:
            text = (
                f"✖ {len(threads)} pollers are stuck in a collection ({', '.join(threads)}): "
                "End shows their stacks"
            )
        else:
            text = ""
        if text != self._stuck_told:
            self._stuck_told = text
            self.stuck_notice.update(text)
            self.stuck_notice.display = bool(text)


def _backoff(source: SourceData, now: float) -> str:
    health = source.health
    if health.consecutive_failures < 2 or health.next_attempt is None:
        return "–"
    return f"retry in {format_age(health.next_attempt - now)} ({health.consecutive_failures} failed)"
