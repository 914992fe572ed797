"""The dashboard application and `run_dashboard`, the entry the CLI calls.

The app pulls: a timer reads `store.snapshot()` and hands it to the current screen, which
redraws what changed since the version it last drew. No poller thread ever calls into
Textual, so a slow or hung collector can never freeze the display.

The app takes a bare MetricsStore (plus, optionally, the scheduler for the threads view) and
an injectable clock, so tests drive it with a store they fill themselves and a frozen time.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar, TypedDict, TypeVar

from textual.app import App, InvalidThemeError, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from monitor.alerts.definitions import Level, ThresholdSettings
from monitor.alerts.state import AlertState, AlertsView
from monitor.config import Config
from monitor.printable import printable
from monitor.reload import ReloadStatus, terminal_alive
from monitor.runtime import Runtime
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore
from monitor.tui.alerthistory import AlertHistoryScreen
from monitor.tui.chrome import DashboardScreen
from monitor.tui.colours import alert_level
from monitor.tui.costs import CostScreen
from monitor.tui.detail import DetailScreen
from monitor.tui.exitguard import ExitGuard
from monitor.tui.help import HelpScreen
from monitor.tui.logbuffer import LogBuffer
from monitor.tui.logs import LogScreen
from monitor.tui.overview import OverviewScreen

DARK, LIGHT = "textual-dark", "textual-light"
MAX_NOTIFICATIONS_PER_TICK = 3
TERMINAL_CHECK_PERIOD = 1.0
ScreenT = TypeVar("ScreenT", bound=Screen)

RELOAD_HELP = Binding("r", "reload_config", "Reload", tooltip="Reload the config file, as SIGHUP does")
"""For the help screen: `r` is bound per app by allow_reload, where there is a config to reload."""
ALERTS_HELP = Binding(
    "a", "alerts", "Alerts", tooltip="Active alerts and the history of fired and resolved ones"
)
"""Bound like RELOAD_HELP, only in an app that has alerts to show."""


class ConfiguredSettings(TypedDict):
    """What the dashboard takes from config.yaml, at startup and again after each reload."""

    show: dict[str, tuple[str, ...] | None]
    thresholds: dict[str, Mapping[str, ThresholdSettings]]
    refresh: float
    theme: str
    bell: bool


def settings_of(config: Config) -> ConfiguredSettings:
    return ConfiguredSettings(
        show={source.name: source.show for source in config.sources},
        thresholds={source.name: source.thresholds for source in config.sources},
        refresh=config.dashboard.refresh,
        theme=config.dashboard.theme,
        bell=config.dashboard.bell,
    )


class MonitorApp(App[int]):
    CSS_PATH = Path(__file__).with_name("dashboard.tcss")  # absolute: subclasses live elsewhere
    TITLE = "monitor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit: stop the pollers and the exporter, restore the terminal"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit, like q"),
        # Second in the footer, where a narrow terminal never leaves it out (chrome.DashboardFooter):
        # `?` is the key that leads to all the others.
        Binding("question_mark", "help", "Help", tooltip="This help"),
        Binding("p", "toggle_pause", "Pause", tooltip="Freeze the display on one snapshot; again to resume"),
        Binding("slash", "filter", "Filter", tooltip="Filter by name: sources and series, log lines, alerts"),
        Binding("c", "costs", "Cost", tooltip="Monitoring cost per source and what each poller thread does"),
        Binding("l", "log", "Log", tooltip="Messages logged while the dashboard runs"),
        Binding("t", "toggle_theme", "Theme", tooltip="Switch between the dark and the light theme"),
    ]
    watch_terminal = False
    """Exit when the controlling terminal goes away; on only in the real command, since tests
    run the app without a terminal."""

    def __init__(
        self,
        store: MetricsStore,
        *,
        show: Mapping[str, tuple[str, ...] | None] | None = None,
        refresh: float = 0.25,
        theme: str = DARK,
        exporter_url: str = "",
        scheduler: Scheduler | None = None,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
        log_buffer: LogBuffer | None = None,
        blink: bool = True,
        thresholds: Mapping[str, Mapping[str, ThresholdSettings]] | None = None,
        alerts: Callable[[], AlertsView] | None = None,
        bell: bool = False,
    ) -> None:
        """`thresholds` per source colour values; `alerts` (the evaluator's current view) feeds
        the alert bar and history; `bell` rings the terminal bell when an alert starts firing."""
        super().__init__()
        self.store = store
        self.show = dict(show or {})
        self.refresh_interval = refresh
        self.initial_theme = theme
        self.exporter_url = exporter_url
        self.scheduler = scheduler
        self.clock = clock
        self.host = host or socket.gethostname()
        self.log_buffer = log_buffer
        self.blink = blink
        self.paused = False
        self.filter_text = ""
        self.live = store.snapshot()
        self.frozen = self.live
        self.paused_at = 0.0
        self.refreshes = 0
        """Timer ticks handled: the benchmark compares it with the ticks it expected."""
        self.thresholds = dict(thresholds or {})
        self.alerts = alerts
        self.bell_on_firing = bell
        self.alert_view: AlertsView | None = None
        self.alert_levels: dict[str, Level] = {}
        """Per source, the worst level of the alerts firing on it: colours its panel."""
        self.bells = 0
        self.settings_version = 0
        """Bumped when a reload changed what panels show or how they are coloured: every
        panel is drawn again, not only those whose data moved."""
        self._refresh_timer: Timer | None = None
        self._logged = 0

    @classmethod
    def from_runtime(cls, runtime: Runtime, **options: object) -> MonitorApp:
        """Call after `runtime.start()`: the exporter's real port is known only then."""
        exporter = runtime.exporter
        app = cls(
            runtime.store,
            **settings_of(runtime.config),
            exporter_url=f"{exporter.url}/metrics" if exporter is not None else "",
            scheduler=runtime.scheduler,
            alerts=runtime.alerting.current,
            **options,  # type: ignore[arg-type]
        )
        app.allow_reload(runtime.reloader.request)
        app.follow_reloads(lambda: runtime.config, lambda: runtime.reload_status)
        return app

    reload_config: Callable[[], None] | None = None
    """Asks the reloader's own thread for a reload, as SIGHUP does."""
    exit_guard: ExitGuard | None = None
    """Ends the process if an exit asked for after the terminal went away blocks on it."""
    _current_config: Callable[[], Config] | None = None
    _config_applied: Config | None = None
    _reload_status: Callable[[], ReloadStatus] | None = None
    _status_seen: ReloadStatus | None = None
    failed_reload: ReloadStatus | None = None
    """The last reload, while it failed: the header says so until one succeeds."""

    def allow_reload(self, request: Callable[[], None]) -> None:
        """Bind `r` to `request`. Not in BINDINGS: only an app over a runtime has a config file
        to reload (tests bind it to see the footer the real command shows)."""
        self.reload_config = request
        self.bind(RELOAD_HELP.key, RELOAD_HELP.action, description=RELOAD_HELP.description)

    def follow_reloads(self, config: Callable[[], Config], status: Callable[[], ReloadStatus]) -> None:
        """After every reload, however it was asked for (SIGHUP, `monitor reload`, --watch,
        `r`), say how it went and take the dashboard's settings from the new config. The
        timer pulls both, like snapshots: the reloading thread never calls into Textual."""
        self._current_config, self._reload_status = config, status
        self._config_applied, self._status_seen = config(), status()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast is printable(): one quotes a log message, another a reload's errors."""
        super().notify(
            printable(message, lines=True),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def _follow_reloads(self) -> None:
        if self._reload_status is not None:
            status = self._reload_status()
            if status is not self._status_seen:
                self._status_seen = status
                self.failed_reload = None if status.ok else status
                message = "\n".join([status.message, *status.errors[:5]])
                # A successful reload's errors are warnings: part of the edit waits for a restart.
                severity = "error" if not status.ok else "warning" if status.errors else "information"
                self.notify(message, severity=severity, markup=False)
        if self._current_config is None or self.paused:
            return  # the frozen panels keep the settings they were drawn with: see reload_waiting
        config = self._current_config()
        before, self._config_applied = self._config_applied, config
        if before is None or config is before:
            return
        settings = settings_of(config)
        self.show = settings["show"]
        self.thresholds = settings["thresholds"]
        self.bell_on_firing = config.dashboard.bell
        self.settings_version += 1
        if config.dashboard.refresh != before.dashboard.refresh:
            self.call_later(self._start_refresh_timer, config.dashboard.refresh)
        if config.dashboard.theme != before.dashboard.theme:  # else keep what `t` chose
            self._use_theme(config.dashboard.theme)

    @property
    def reload_waiting(self) -> bool:
        """A reload took effect while the display is paused. Its `show`, thresholds and theme
        wait for resume: applied to the frozen snapshot, they mixed the new config with data
        collected under the old one (a new source without a panel, a removed one with)."""
        return self._current_config is not None and self._current_config() is not self._config_applied

    def action_reload_config(self) -> None:
        """`r`: the same reload as SIGHUP (docs/RELOAD.md), on the reloader's thread; the next
        tick tells the outcome, as for any other reload. Not a Textual worker: quitting waits
        for those, and a reload stuck in a plugin's import kept `q` and Ctrl+C from ending the
        dashboard for a minute."""
        if self.reload_config is not None:
            self.reload_config()

    def get_default_screen(self) -> Screen:
        return OverviewScreen()

    def on_mount(self) -> None:
        self._use_theme(self.initial_theme)
        if self.alerts is not None:
            self.bind(ALERTS_HELP.key, ALERTS_HELP.action, description=ALERTS_HELP.description)
        self._start_refresh_timer(self.refresh_interval)
        if self.watch_terminal:
            self.set_interval(TERMINAL_CHECK_PERIOD, self._exit_if_terminal_gone)

    def _use_theme(self, name: str) -> None:
        try:
            self.theme = name
        except InvalidThemeError:
            self.notify(f"unknown theme {name!r}; using {DARK}", severity="warning", markup=False)
            self.theme = DARK

    def _start_refresh_timer(self, interval: float) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        self.refresh_interval = interval
        self._refresh_timer = self.set_interval(interval, self.tick)

    def _exit_if_terminal_gone(self) -> None:
        """The SIGHUP of a closing terminal can arrive before the hang-up shows, or be
        lost: without this check a dashboard could live on with no screen, polling forever."""
        if not terminal_alive():
            if self.exit_guard is not None:
                self.exit_guard.arm()
            self.exit()

    def tick(self) -> None:
        self._follow_reloads()
        self.live = self.store.snapshot()
        self._notify_new_log_lines()
        self._read_alerts()
        self.redraw()
        self.refreshes += 1

    def redraw(self) -> None:
        """Show the live (or, when paused, the frozen) snapshot on the current screen."""
        if not self.screen_stack:  # shutting down
            return
        screen = self.screen
        if not isinstance(screen, DashboardScreen) or not screen.ready or self.return_code is not None:
            return
        if self.alert_view is None:  # the first draw comes before the first tick: no empty alert bar
            self._read_alerts()
        now = self.clock()
        if self.paused:
            screen.show(self.frozen, self.live, now, drawn_at=self.paused_at)
        else:
            screen.show(self.live, self.live, now, drawn_at=now)

    def _read_alerts(self) -> None:
        view = self.alerts() if self.alerts is not None else None
        previous = self.alert_view
        if view is None or (previous is not None and view.version == previous.version):
            return
        self.alert_view = view
        if previous is None or bool(view.rules) != bool(previous.rules):
            self.refresh_bindings()
        levels: dict[str, Level] = {}
        for alert in view.in_state(AlertState.FIRING):
            levels[alert.source] = max(levels.get(alert.source, Level.OK), alert_level(alert))
        self.alert_levels = levels
        seen = previous.history[-1].time if previous is not None and previous.history else -1.0
        fired = [e for e in view.history if e.time > seen and e.state is AlertState.FIRING]
        if fired and self.bell_on_firing:
            self.bells += 1
            self.bell()

    def _notify_new_log_lines(self) -> None:
        if self.log_buffer is None:
            return
        lines = self.log_buffer.since(self._logged)
        if not lines:
            return
        self._logged = lines[-1].number
        warnings = [line for line in lines if line.level >= logging.WARNING and not line.shown_elsewhere]
        shown = (
            warnings
            if len(warnings) <= MAX_NOTIFICATIONS_PER_TICK
            else warnings[: MAX_NOTIFICATIONS_PER_TICK - 1]
        )
        for line in shown:
            self.notify(
                line.message, severity="error" if line.level >= logging.ERROR else "warning", markup=False
            )
        if len(shown) < len(warnings):  # a burst (many sources failing at once) is one more toast, not ten
            more = len(warnings) - len(shown)
            self.notify(f"{more} more warnings: l opens the log", severity="warning")

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.redraw()

    def open_detail(self, source: str) -> None:
        """A detail screen already open further down (detail, `c`, then the palette's "Detail:
        web") is gone back to and shows `source`: one detail screen at a time."""
        screen = self._back_to(DetailScreen)
        if screen is None:
            self.push_screen(DetailScreen(source))
        else:
            screen.show_source(source)

    def _open(self, screen_type: type[Screen], make: Callable[[], Screen]) -> None:
        """Open the screen, or go back to it when it is already open further down (`c`, `l`,
        `c`): screens have fixed ids, and a second copy in the stack crashed the app."""
        if self._back_to(screen_type) is None:
            self.push_screen(make())

    def _back_to(self, screen_type: type[ScreenT]) -> ScreenT | None:
        """Pop the screens above the open one of `screen_type` and return it; None if none is open."""
        stack = self.screen_stack
        found = next((i for i, screen in enumerate(stack) if isinstance(screen, screen_type)), None)
        if found is None:
            return None
        for _ in range(len(stack) - found - 1):
            self.pop_screen()
        return stack[found]  # type: ignore[return-value]  # isinstance checked above

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self.frozen, self.paused_at = self.live, self.clock()
        else:
            self._follow_reloads()
        self.redraw()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The help screen has nothing to filter: its footer offered `/ Filter`, which did nothing.
        Without alert rules `a` opened an empty screen, and took a footer place that `t` and `r`
        lost at 80 columns; a reload that adds rules brings it back."""
        if action == "alerts":
            return self.has_alert_rules
        return action != "filter" or isinstance(self.screen, DashboardScreen)

    @property
    def has_alert_rules(self) -> bool:
        return self.alert_view is not None and bool(self.alert_view.rules)

    def action_filter(self) -> None:
        if isinstance(self.screen, DashboardScreen):
            self.screen.open_filter()

    def action_clear_filter(self) -> None:
        if isinstance(self.screen, DashboardScreen):
            self.screen.action_clear_filter()

    def action_costs(self) -> None:
        self._open(CostScreen, CostScreen)

    def action_alerts(self) -> None:
        self._open(AlertHistoryScreen, AlertHistoryScreen)

    def action_log(self) -> None:
        self._open(LogScreen, LogScreen)

    def action_help(self) -> None:
        self._open(HelpScreen, lambda: HelpScreen(self.help_sections()))

    def action_overview(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Textual saves screenshots to ~/Downloads and fails where there is none (a server, a
        container): then into the current directory. Its palette command calls this directly,
        not the screenshot action, so the fallback belongs here."""
        downloads = Path.home() / "Downloads"
        directory = path or str(downloads if downloads.is_dir() else Path.cwd())
        return super().deliver_screenshot(filename, directory, time_format)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK

    def help_sections(self) -> dict[str, Iterable]:
        reload = [RELOAD_HELP] if self.reload_config is not None else []
        alerts = [ALERTS_HELP] if self.has_alert_rules else []
        return {
            "Everywhere": [*self.BINDINGS, *reload, *alerts, *DashboardScreen.BINDINGS],
            "Overview": OverviewScreen.BINDINGS,
            "Source detail": DetailScreen.BINDINGS,
        }

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Resume" if self.paused else "Pause",
            "Freeze the display on one snapshot (collection goes on)",
            self.action_toggle_pause,
        )
        yield SystemCommand("Filter", "Filter sources and series by name", self.action_filter)
        if self.filter_text:
            yield SystemCommand(
                "Clear filter", "Show every source and series again", self.action_clear_filter
            )
        yield SystemCommand("Overview", "Back to the overview of all sources", self.action_overview)
        yield SystemCommand("Monitoring cost", "Cost of each source and poller threads", self.action_costs)
        yield SystemCommand("Log", "Messages logged while the dashboard runs", self.action_log)
        if self.has_alert_rules:
            yield SystemCommand("Alerts", "Active alerts and their history", self.action_alerts)
        if self.reload_config is not None:
            yield SystemCommand(
                "Reload config", "Re-read the config file, as SIGHUP does", self.action_reload_config
            )
        yield SystemCommand("Help", "Key bindings and health badges", self.action_help)
        yield SystemCommand(
            "Toggle dark/light", "Switch between the dark and light theme", self.action_toggle_theme
        )
        for name in self.live.sources:
            yield SystemCommand(f"Detail: {name}", f"Every series of source {name}", self._detail_of(name))
        if isinstance(screen, DetailScreen):
            for key, label in (("1", "1m"), ("2", "5m"), ("3", "15m"), ("4", "1h")):
                yield SystemCommand(
                    f"Window {label}", f"Chart and statistics over {label}", self._window(screen, key)
                )
            yield SystemCommand("Sort", "Sort the series by the next column", screen.action_sort)
            yield SystemCommand("Reverse sort", "Reverse the order of the series", screen.action_reverse)

    def _detail_of(self, name: str) -> Callable[[], None]:
        return lambda: self.open_detail(name)

    @staticmethod
    def _window(screen: DetailScreen, key: str) -> Callable[[], None]:
        return lambda: screen.action_window(key)


@contextlib.contextmanager
def logs_to_the_app() -> Iterator[LogBuffer]:
    """While the dashboard runs, log records go to a buffer its log screen and notifications
    read, not to the terminal it draws on; the handlers before are put back after."""
    buffer = LogBuffer()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [buffer]
    try:
        yield buffer
    finally:
        root.handlers = saved


def run_dashboard(runtime: Runtime) -> int:
    """Run the engine under the dashboard; log records go to the app, not the terminal, until
    the dashboard has exited (what stopping the engine logs is for the terminal again)."""
    try:
        with logs_to_the_app() as buffer:
            runtime.start()
            app = MonitorApp.from_runtime(runtime, log_buffer=buffer)
            app.watch_terminal = terminal_alive()
            guard = ExitGuard(runtime)
            app.exit_guard = guard

            def exit_on_sigterm(_signum: int, _frame: object) -> None:
                # SIGTERM's default action kills the process mid-frame: the terminal stays in
                # the alternate screen and the `command` collector's children outlive us. Exit
                # cleanly, or, if the terminal is gone and the exit blocks on it, by the guard.
                guard.arm()
                app.exit()

            signal.signal(signal.SIGTERM, exit_on_sigterm)
            # What exists now (modules, classes, Textual's internals) lives until exit: taking
            # it out of the collector's reach makes full collections, which stall the refresh
            # timer, 2-4x shorter with many sources.
            gc.freeze()
            app.run()
            guard.disarm()  # exited on its own; the engine's stop below is the normal one
    finally:
        runtime.stop()
    return app.return_code or 0
