"""The log screen: everything logged while the dashboard owns the terminal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Log

from monitor.model import Snapshot
from monitor.tui import view as v
from monitor.tui.chrome import DashboardScreen


class LogScreen(DashboardScreen):
    def __init__(self) -> None:
        super().__init__(id="logs")
        self._shown = 0
        self._filter = ""
        self.log_view = Log(id="log", auto_scroll=True)

    def body(self) -> ComposeResult:
        yield self.log_view

    def draw(self, snapshot: Snapshot, now: float) -> None:
        buffer = self.dashboard.log_buffer
        if buffer is None:
            if self._shown == 0:
                self.log_view.write_line("logging is not captured in this session")
                self._shown = -1
            return
        filter_text = self.dashboard.filter_text
        if filter_text != self._filter:  # `/` shows the matching lines of the whole buffer
            self._filter, self._shown = filter_text, 0
            self.log_view.clear()
        lines = buffer.since(self._shown)
        if lines:
            self.log_view.write_lines(line.text for line in lines if v.matches(filter_text, line.text))
            self._shown = lines[-1].number
