"""`monitor once`: collect every source one time and print what came back, errors included.

Useful to try a new source or plugin without starting the dashboard. Runs the real pollers
(no start jitter), so what it shows is exactly what the dashboard would get.
"""

from __future__ import annotations

import json
import math
import time

from monitor.config import Config
from monitor.exporter.api import snapshot_json
from monitor.model import Snapshot, series_name
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore


def collect_once(config: Config, store: MetricsStore | None = None) -> Snapshot:
    """Run the pollers until every source has been tried once (or its timeout passed), into
    `store` when the caller wants its history too (else one that keeps none: a single
    collection draws no chart).

    The scheduler is stopped in `finally`: an exception here is usually the user's Ctrl+C
    (see cli.Interrupted), and only a stopped scheduler closes the collectors, which is how a
    `command` source's program and its children get killed rather than left running.
    """
    store = store if store is not None else MetricsStore(history=0)
    scheduler = Scheduler(config, store, start_jitter=False)
    try:
        scheduler.start()
        deadline = time.monotonic() + max((s.timeout for s in config.sources), default=0) + 1.0
        snapshot = store.snapshot()
        while not all(s.health.last_attempt is not None for s in snapshot.sources.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            snapshot = store.wait_for_change(snapshot.version, remaining)
    finally:
        scheduler.stop(timeout=1.0)
    return snapshot


def _format_value(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}" if not float(value).is_integer() else f"{int(value)}"


def render_table(snapshot: Snapshot) -> str:
    lines = []
    for source in snapshot.sources.values():
        health = source.health
        state = source.state(snapshot.time)
        head = f"== {source.name} ({source.collector}): {state}, {health.last_duration * 1000:.0f} ms"
        lines.append(head + (f", {health.series_count} series" if health.up else ""))
        if health.last_error:
            lines.append(f"   error: {health.last_error}")
        for error in health.partial_errors:
            lines.append(f"   partial error: {error}")
        if health.up:
            for key, value in sorted(source.series.items()):
                lines.append(f"   {series_name(key)} {_format_value(value)}")
    return "\n".join(lines)


def render_json(snapshot: Snapshot) -> str:
    """The same document as the exporter's GET /api/v1/snapshot, so scripts parse one shape."""
    return json.dumps(snapshot_json(snapshot, snapshot.time, with_values=True), indent=2)
