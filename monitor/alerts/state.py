"""The alerts' state as readers see it: immutable values, swapped in whole after each evaluation,
so the dashboard and the exporter read them from any thread without locks (as with snapshots)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from monitor.alerts.definitions import Severity
from monitor.model import Labels, Unit


class AlertState(enum.StrEnum):
    """Prometheus's inactive, pending and firing, plus resolved: was firing, no longer holds."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"

    @property
    def gauge(self) -> float:
        """The value of monitor_alert_state: 0 not active, 1 pending, 2 firing."""
        return {AlertState.PENDING: 1.0, AlertState.FIRING: 2.0}.get(self, 0.0)


_DISPLAY_ORDER = {AlertState.FIRING: 0, AlertState.PENDING: 1, AlertState.RESOLVED: 2, AlertState.INACTIVE: 3}


@dataclass(frozen=True, slots=True)
class AlertInstance:
    """One alert for one matching series (a source condition has one, without labels)."""

    alert: str
    severity: Severity
    source: str
    labels: Labels
    state: AlertState
    value: float | None
    summary: str
    active_since: float | None = None
    """When the condition started to hold (the start of pending)."""
    fired_at: float | None = None
    resolved_at: float | None = None
    keep_firing_since: float | None = None
    """When the condition of a firing alert stopped holding, while its `keep_firing_for` keeps
    it firing; None while the condition holds (as Prometheus's keepFiringSince)."""
    unit: Unit = Unit.NONE
    """The compared metric's, so screens write the value as its summary does."""

    def sort_key(self) -> tuple:
        """Firing first, then pending, then resolved; most severe first within each."""
        return (_DISPLAY_ORDER[self.state], -self.severity.rank, self.alert, self.labels)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A transition worth telling someone about: an alert fired or resolved."""

    time: float
    instance: AlertInstance

    @property
    def state(self) -> AlertState:
        return self.instance.state


@dataclass(frozen=True, slots=True)
class AlertsView:
    """Every configured alert as of one evaluation. `alerts` holds pending, firing and recently
    resolved instances, already sorted for display; `history` the transitions, oldest first."""

    version: int = 0
    """Higher for every new view, across reloads too (one count for the process): a reader
    redraws when it differs from the version it drew."""
    time: float = 0.0
    rules: tuple[tuple[str, Severity, str], ...] = ()
    """(name, severity, source) of every configured alert, active or not."""
    alerts: tuple[AlertInstance, ...] = ()
    history: tuple[AlertEvent, ...] = ()

    def in_state(self, state: AlertState) -> tuple[AlertInstance, ...]:
        return tuple(a for a in self.alerts if a.state is state)
