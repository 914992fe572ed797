"""Store states and alert definitions for the alert tests; time is a number the test moves."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.state import AlertEvent
from monitor.model import Labels, MetricSpec, SourceHealth
from monitor.store import MetricsStore

T0 = 1_800_000_000.0


class Clock:
    """Wall time that moves only when the test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def alert(**fields) -> AlertSettings:
    defaults = {"name": "High", "source": "local", "metric": "load", "op": ">", "threshold": 0.9}
    if "condition" in fields:
        defaults = {"name": "Gone", "source": "local"}
    return AlertSettings.model_validate({**defaults, **fields})


def healthy(now: float, stale_after: float = 30.0) -> SourceHealth:
    return SourceHealth(up=True, collections=1, last_attempt=now, last_success=now, stale_after=stale_after)


def failed(now: float) -> SourceHealth:
    return SourceHealth(up=False, collections=1, errors_total=1, last_attempt=now, last_error="refused")


class Fleet:
    """A store with sources the test publishes into, stamped with the test's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.store = MetricsStore(history=0, clock=clock)

    def add(
        self, name: str = "local", labels: Labels = (), specs: Mapping[str, MetricSpec] | None = None
    ) -> None:
        self.store.add_source(name, "test", 1.0, labels, specs)

    def publish(
        self,
        values: Mapping[tuple[str, Labels], float] | float,
        name: str = "local",
        stale_after: float = 30.0,
    ):
        series = {("load", ()): values} if isinstance(values, float | int) else values
        return self.store.publish(name, healthy(self.clock(), stale_after), series)

    def fail(self, name: str = "local"):
        return self.store.publish(name, failed(self.clock()))


def told(events: list[AlertEvent]) -> list[tuple[str, str]]:
    """What the notifications say: each event's alert and new state."""
    return [(e.instance.alert, str(e.state)) for e in events]
