"""The log screen: everything logged while the dashboard owns the terminal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Log

from monitor.model import Snapshot
from monitor.tui.chrome import DashboardScreen


class LogScreen(DashboardScreen):
    def __init__(self) -> None:
        super().__init__(id="logs")
        self._shown = 0
        self.log_view = Log(id="log", auto_scroll=True)

    def body(self) -> ComposeResult:
        yield self.log_view

    def draw(self, snapshot: Snapshot, now: float) -> None:
        buffer = self.dashboard.log_buffer
        lines = buffer.since(self._shown) if buffer is not None else []
        if lines:
            self.log_view.write_lines(line.text for line in lines)
            self._shown = lines[-1].number
        elif buffer is None and self._shown == 0:
            self.log_view.write_line("logging is not captured in this session")
            self._shown = -1
