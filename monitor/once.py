"""`monitor once`: collect every source one time and print what came back, errors included.

Useful to try a new source or plugin without starting the dashboard. Runs the real pollers
(no start jitter), so what it shows is exactly what the dashboard would get.
"""

from __future__ import annotations

import json
import math
import time

from monitor.config import Config
from monitor.model import SeriesKey, Snapshot, SourceData
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore


def collect_once(config: Config) -> Snapshot:
    store = MetricsStore(history=config.history)
    scheduler = Scheduler(config, store, start_jitter=False)
    scheduler.start()
    deadline = time.monotonic() + max((s.timeout for s in config.sources), default=0) + 1.0
    snapshot = store.snapshot()
    while time.monotonic() < deadline:
        snapshot = store.snapshot()
        if all(s.health.last_attempt is not None for s in snapshot.sources.values()):
            break
        snapshot = store.wait_for_change(snapshot.version, max(0.0, deadline - time.monotonic()))
    scheduler.stop(timeout=1.0)
    return snapshot


def series_name(key: SeriesKey) -> str:
    name, labels = key
    if not labels:
        return name
    inner = ",".join(f'{label}="{value}"' for label, value in labels)
    return f"{name}{{{inner}}}"


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


def source_json(source: SourceData, now: float) -> dict:
    health = source.health
    return {
        "collector": source.collector,
        "state": str(source.state(now)),
        "error": health.last_error,
        "partial_errors": list(health.partial_errors),
        "duration_seconds": health.last_duration,
        "series": [
            {"name": name, "labels": dict(labels), "value": value if math.isfinite(value) else str(value)}
            for (name, labels), value in sorted(source.series.items())
        ]
        if health.up
        else [],
    }


def render_json(snapshot: Snapshot) -> str:
    body = {name: source_json(source, snapshot.time) for name, source in snapshot.sources.items()}
    return json.dumps(body, indent=2)
