"""JSON views of one snapshot for scripts: health only, or health with the latest values.

JSON has no NaN or infinities, so non-finite numbers are written the way Prometheus writes
them ("NaN", "+Inf", "-Inf") and unknown times as null.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from prometheus_client.utils import floatToGoString

from monitor.model import Snapshot, SourceData


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else floatToGoString(value)


def _optional(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def source_health_json(source: SourceData, now: float) -> dict[str, Any]:
    health = source.health
    return {
        "collector": source.collector,
        "interval_seconds": source.interval,
        "labels": dict(source.labels),
        "state": str(source.state(now)),
        "stale": source.stale(now),
        "up": health.up,
        "collections": health.collections,
        "errors_total": health.errors_total,
        "consecutive_failures": health.consecutive_failures,
        "overruns_total": health.overruns,
        "last_attempt": health.last_attempt,
        "last_success": health.last_success,
        "next_attempt": health.next_attempt,
        "hung_since": health.hung_since,
        "last_error": health.last_error,
        "partial_errors": list(health.partial_errors),
        "last_duration_seconds": health.last_duration,
        "poller_cpu_seconds_total": health.cpu_seconds,
        "series_count": health.series_count,
        "series_dropped": health.series_dropped,
        "stale_after_seconds": _optional(health.stale_after),
    }


def source_json(source: SourceData, now: float) -> dict[str, Any]:
    """Health plus the latest values, kept (and marked by `state`) even when down or stale."""
    series = [
        {"name": name, "labels": dict(labels), "value": _number(value)}
        for (name, labels), value in source.series.items()
    ]
    return {**source_health_json(source, now), "series": series}


def snapshot_json(snapshot: Snapshot, now: float, with_values: bool) -> dict[str, Any]:
    view = source_json if with_values else source_health_json
    return {
        "version": snapshot.version,
        "time": snapshot.time,
        "sources": {name: view(source, now) for name, source in snapshot.sources.items()},
    }


class JsonViews:
    """The /api/v1 bodies, cached per snapshot and source states like /metrics: at 10,000
    series one snapshot body costs about 70 ms of CPU, so scripts polling it should share."""

    def __init__(self, snapshot: Callable[[], Snapshot], clock: Callable[[], float] = time.time) -> None:
        self._snapshot = snapshot
        self._clock = clock
        self._cache: dict[bool, tuple[list, bytes]] = {}

    def body(self, with_values: bool) -> bytes:
        """Safe from several threads at once: a race only builds the same body twice."""
        snapshot, now = self._snapshot(), self._clock()
        key = [(source.version, source.state(now), source.stale(now)) for source in snapshot.sources.values()]
        cached = self._cache.get(with_values)
        if cached is not None and cached[0] == key:
            return cached[1]
        body = json.dumps(snapshot_json(snapshot, now, with_values)).encode()
        self._cache[with_values] = (key, body)
        return body
