"""Collector plugins that misbehave on purpose, one way each, for the fault suite.

They are a real entry-point package (installed editable by scripts/test) because the point
is to prove that a third-party plugin, loaded the normal way, cannot take monitor down.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Literal

from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, Collector, CollectorOptions


class RaisingOptions(CollectorOptions):
    message: str = "plugin exploded on purpose"


class RaisingCollector(Collector[RaisingOptions]):
    """Raises an unexpected exception type (not CollectError) on every collection."""

    name = "fault_raise"
    description = "raises RuntimeError on every collection"
    Options = RaisingOptions

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        raise RuntimeError(self.options.message)


class GarbageOptions(CollectorOptions):
    returns: Literal["nan", "string", "none"] = "nan"


class GarbageCollector(Collector[GarbageOptions]):
    """Returns NaN (a valid value), a string value or None instead of samples."""

    name = "fault_garbage"
    description = "returns NaN, a string value or None"
    Options = GarbageOptions
    metrics = (MetricSpec("fault_garbage_value", "Whatever the fault returns."),)

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        if self.options.returns == "none":
            return None  # type: ignore[return-value]
        value = float("nan") if self.options.returns == "nan" else "forty-two"
        return [Sample("fault_garbage_value", value)]  # type: ignore[arg-type]


class BlockingCollector(Collector[CollectorOptions]):
    """Blocks forever, ignoring its timeout and the stop flag (an Event nobody sets)."""

    name = "fault_block"
    description = "never returns"
    forever = threading.Event()

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        self.forever.wait()
        return []
