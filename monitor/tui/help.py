"""The `?` screen: every key binding, taken from the bindings themselves so it cannot drift,
and what the health badges mean."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from monitor.model import SourceState
from monitor.tui.chrome import DashboardFooter
from monitor.tui.colours import STATE_SYMBOLS, WARNING_TEXT, state_style

BADGES = {
    SourceState.UP: "the last collection succeeded and its data is fresh",
    SourceState.STALE: "collection succeeded before, but the data is older than the source's stale_after",
    SourceState.DOWN: "the last collection failed: the error and the time to the next retry are shown "
    "(or, for a collection stuck past its timeout, how long it has been hung); the last values stay, greyed",
    SourceState.PENDING: "the first collection has not finished yet",
}

PARTIAL = (
    "(yellow) collected, but part of what the source asks for failed; the first error is on the "
    "panel, every one on the detail screen"
)


class HelpScreen(Screen):
    """Keys and badges in two columns, so a description that wraps stays under itself instead
    of running back under the keys."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark", "app.pop_screen", "Close help")]

    def __init__(self, sections: dict[str, Iterable[BindingType]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            yield Static("[b]monitor: keys[/b]\nEvery action is also in the command palette (ctrl+p).")
            for title, bindings in self.sections.items():
                yield Static(f"[b]{title}[/b]", classes="help-heading")
                for meaning, keys in _keys_by_meaning(bindings).items():
                    yield self._row(
                        ", ".join(self.app.get_key_display(Binding(k, "")) for k in keys), meaning
                    )
            yield Static("[b]Health badges[/b]", classes="help-heading")
            for state, meaning in BADGES.items():
                yield self._row(f"{STATE_SYMBOLS[state]} {state.value}", meaning, state_style(state))
                if state is SourceState.UP:
                    yield self._row(f"{STATE_SYMBOLS[state]} up, N partial errors", PARTIAL, WARNING_TEXT)
            yield Static(
                "Mouse: click a panel to open its detail, a column header to sort, a key in the footer.",
                classes="help-heading",
            )
        yield DashboardFooter()

    @staticmethod
    def _row(term: str, meaning: str, style: str = "$text-accent") -> Horizontal:
        return Horizontal(
            Static(Content.styled(term, style), classes="help-term"),
            Static(meaning, markup=False, classes="help-meaning"),
            classes="help-row",
        )


def _keys_by_meaning(bindings: Iterable[BindingType]) -> dict[str, list[str]]:
    """One help row per meaning: keys bound apart (a priority ↓ beside a plain →) read as one."""
    rows: dict[str, list[str]] = {}
    for binding in bindings:
        assert isinstance(binding, Binding)
        rows.setdefault(binding.tooltip or binding.description, []).extend(binding.key.split(","))
    return rows
