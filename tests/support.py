"""Test doubles that stand in for what cannot be real in a unit test: time, and plugins
whose behaviour (hang, raise, return garbage) the test must control."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from pydantic import Field

from monitor.config import Config, parse_config
from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, CollectError, Collector, CollectorOptions
from monitor.registry import Registry


class FakeClock:
    """Monotonic and wall time that only move when the code under test sleeps or advances."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall_offset

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    def wait_until(self, deadline: float, stop: threading.Event) -> bool:
        if stop.is_set():
            return True
        self.now = max(self.now, deadline)
        return stop.is_set()

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptOptions(CollectorOptions):
    value: float = Field(default=1.0)


class ScriptedCollector(Collector[ScriptOptions]):
    """Runs `script(ctx, call_number)` for each collection; the test sets the script."""

    name = "scripted"
    description = "test collector driven by a script"
    Options = ScriptOptions
    metrics = (
        MetricSpec("test_value", "a test value", key=True),
        MetricSpec("v", "a value the scheduler's tests return", labels=("i", "k")),
    )
    script: Callable[[CollectContext, int], Iterable[Sample]] = staticmethod(
        lambda ctx, n: [Sample("test_value", float(n))]
    )

    def setup(self) -> None:
        self.calls = 0

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        self.calls += 1
        return type(self).script(ctx, self.calls)


class HangingCollector(Collector[CollectorOptions]):
    """Blocks forever and ignores both its timeout and the stop flag."""

    name = "hanging"
    description = "never returns"
    release = threading.Event()

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        type(self).release.wait()
        return []


class FailingCollector(Collector[CollectorOptions]):
    name = "failing"
    description = "always fails"

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        raise CollectError("connection refused by test")


TEST_REGISTRY_CLASSES = (ScriptedCollector, HangingCollector, FailingCollector)


def config_of(text: str, *classes: type[Collector]) -> Config:
    """Parse config text against the test collectors (plus any extra classes)."""
    return parse_config(text, "test.yaml", registry=Registry.of(*TEST_REGISTRY_CLASSES, *classes))
