"""`monitor once`: collect every source one time and print what came back, errors included.

Useful to try a new source or plugin without starting the dashboard. Runs the real pollers
(no start jitter), so what it shows is exactly what the dashboard would get, but each makes one
attempt and stops: a fast source does not poll again while a slow one is still collecting, and
a failure is reported, not retried.
"""

from __future__ import annotations

import json
import math
import time

from monitor.config import Config
from monitor.exporter.api import snapshot_json
from monitor.humanize import format_value
from monitor.model import SeriesKey, Snapshot, SourceData, SourceState, Unit, series_name, unit_of
from monitor.ordering import reading_order
from monitor.printable import printable
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore


def collect_once(config: Config, store: MetricsStore | None = None) -> Snapshot:
    """Run the pollers, one attempt each, until every source has been tried (or its timeout
    passed), into `store` when the caller wants its history too (else one that keeps none: a
    single collection draws no chart). A collection still running past its timeout shows as
    hung, as the watchdog reports it, and is then abandoned.

    The scheduler is stopped in `finally`: an exception here is usually the user's Ctrl+C
    (see cli.Interrupted), and only a stopped scheduler closes the collectors, which is how a
    `command` source's program and its children get killed rather than left running.
    """
    store = store if store is not None else MetricsStore(history=0)
    scheduler = Scheduler(config, store, start_jitter=False, once=True)
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


def state_when_collected(source: SourceData, snapshot: Snapshot) -> SourceState:
    """A source's state as of its own attempt, not of the snapshot: each source collected once,
    and a fast one that finished a second before a slow one is not stale for having been left
    alone since (the dashboard would have collected it again by then)."""
    judged_at = source.health.last_attempt
    return source.state(judged_at if judged_at is not None else snapshot.time)


WHOLE_IN_FULL = 1e16
"""Whole numbers below this are printed with every digit: a float holds each integer exactly up
to 2**53 (about 9.007e15), and a counter that large should not lose its last digits."""


def table_value(value: float) -> str:
    """A value as a reader of the table wants it: whole numbers in full, others to 12 significant
    digits, so a Unix timestamp keeps its fraction of a second (`1795590000.12`, where 6 digits
    gave `1.79559e+09`) and noise like 0.30000000000000004 reads 0.3. The exponent form is left
    for magnitudes below 1e-4 or from 1e12 up. NaN and infinities are spelled as on /metrics."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < WHOLE_IN_FULL:
        return str(int(value))
    return f"{value:.12g}"


def render_table(snapshot: Snapshot) -> str:
    """For a terminal: errors and label values are printable() (a server or a command wrote
    them); the JSON form escapes them itself."""
    lines = []
    for source in snapshot.sources.values():
        health = source.health
        state = state_when_collected(source, snapshot)
        head = f"== {source.name} ({source.collector}): {state}, {health.last_duration * 1000:.0f} ms"
        lines.append(head + (f", {health.series_count} series" if health.up else ""))
        if health.last_error:
            lines.append(f"   error: {printable(health.last_error, lines=True)}")
        for error in health.partial_errors:
            lines.append(f"   partial error: {printable(error, lines=True)}")
        if health.up:
            for key in sorted(source.series, key=reading_order):
                lines.append(
                    f"   {printable(series_name(key))} {table_value(source.series[key])}{_readable(source, key)}"
                )
    return "\n".join(lines)


def _readable(source: SourceData, key: SeriesKey) -> str:
    """The value as the dashboard writes it, after the raw one, where the unit makes them
    differ (`84996182016  (79.2 GiB)`, `0.2198  (22.0 %)`): checked against `df -h` or `free -h`,
    the raw figure alone had to be converted by hand. A counter's total, not a rate."""
    spec = source.specs.get(key[0])
    unit = spec.unit if spec is not None else unit_of(key[0])
    if unit is Unit.NONE:
        return ""
    return f"  ({format_value(source.series[key], unit, now=source.time)})"


def render_json(snapshot: Snapshot) -> str:
    """The same document as the exporter's GET /api/v1/snapshot, so scripts parse one shape;
    each source's state as in the table."""
    document = snapshot_json(snapshot, snapshot.time, with_values=True)
    for name, source in snapshot.sources.items():
        document["sources"][name]["state"] = str(state_when_collected(source, snapshot))
    return json.dumps(document, indent=2)
