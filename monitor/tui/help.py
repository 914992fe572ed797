"""The `?` screen: every key binding, taken from the bindings themselves so it cannot drift,
and what the health badges mean."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from monitor.model import SourceState
from monitor.tui.colours import STATE_SYMBOLS

BADGES = {
    SourceState.UP: "the last collection succeeded and its data is fresh",
    SourceState.STALE: "collection succeeded before, but the data is older than the source's stale_after",
    SourceState.DOWN: "the last collection failed: the error and the time to the next retry are shown; "
    "the last values stay, greyed",
    SourceState.PENDING: "the first collection has not finished yet",
}

PARTIAL = (
    "(yellow) collected, but part of what the source asks for failed; the first error is on the "
    "panel, every one on the detail screen"
)


class HelpScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark", "app.pop_screen", "Close help")]

    def __init__(self, sections: dict[str, Iterable[BindingType]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            yield Static(self._text(), id="help-text")
        yield Footer()

    def _text(self) -> str:
        lines = ["[b]monitor: keys[/b]", "Every action is also in the command palette (ctrl+p).", ""]
        for title, bindings in self.sections.items():
            lines.append(f"[b]{title}[/b]")
            for binding in bindings:
                assert isinstance(binding, Binding)
                keys = ", ".join(self.app.get_key_display(Binding(key, "")) for key in binding.key.split(","))
                lines.append(f"  [$accent]{keys:<16}[/] {binding.tooltip or binding.description}")
            lines.append("")
        lines.append("[b]Health badges[/b]")
        for state, meaning in BADGES.items():
            lines.append(f"  {STATE_SYMBOLS[state]} {state.value:<8} {meaning}")
            if state is SourceState.UP:
                lines.append(f"  {STATE_SYMBOLS[state]} {'up, N partial errors':<8} {PARTIAL}")
        lines.append("")
        lines.append("Mouse: click a panel to open its detail, a column header to sort, a key in the footer.")
        return "\n".join(lines)
