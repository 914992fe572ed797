"""Bounded per-series history for the dashboard's sparklines and charts.

Kept beside the immutable snapshots rather than inside them: copying a 900-point window into
every snapshot would make each publish O(window). Each source owns one ring of timestamps and
one ring of values per series (arrays of doubles: 8 bytes a point, no per-point objects). The
rings grow to the window's capacity and then wrap, so memory is at most capacity x series
whatever the label churn: a series unseen for a whole window is forgotten, and at most
`max_series` are kept.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping

from monitor.model import SeriesKey

NAN = math.nan


class SourceHistory:
    def __init__(self, capacity: int, max_series: int) -> None:
        self.capacity = max(2, capacity)
        self.max_series = max_series
        self._times: array[float] = array("d")
        self._values: dict[SeriesKey, array[float]] = {}
        self._last_seen: dict[SeriesKey, int] = {}
        self._writes = 0

    def __len__(self) -> int:
        return len(self._values)

    def append(self, at: float, series: Mapping[SeriesKey, float]) -> None:
        writes = self._writes
        growing = writes < self.capacity
        slot = writes if growing else writes % self.capacity
        if growing:
            self._times.append(at)
            for ring in self._values.values():
                ring.append(NAN)
        else:
            self._times[slot] = at
        values, last_seen = self._values, self._last_seen
        for key, value in series.items():
            ring = values.get(key)
            if ring is None:
                if len(values) >= self.max_series:
                    continue
                ring = values[key] = array("d", [NAN]) * len(self._times)
            ring[slot] = value
            last_seen[key] = writes
        if not growing and (len(values) != len(series) or values.keys() != series.keys()):
            for key, ring in values.items():
                if last_seen[key] != writes:
                    ring[slot] = NAN
            if writes % self.capacity == 0:
                self._forget_unseen()
        self._writes += 1

    def _forget_unseen(self) -> None:
        horizon = self._writes - self.capacity
        for key in [k for k, seen in self._last_seen.items() if seen <= horizon]:
            del self._values[key], self._last_seen[key]

    def points(self, key: SeriesKey, since: float | None = None) -> list[tuple[float, float]]:
        """(time, value) pairs oldest first, skipping ticks where the series was absent.

        Walked from the newest tick back to the first one older than `since`, so a sparkline's
        last 30 points cost 30 steps, not the whole window's 900 (once the window had filled,
        walking all of it cost 0.37 ms per series, under the store's lock). That takes publish
        order for time order, which a step back of the wall clock breaks: the walk may then stop
        before points of the window from before the step (charts have a gap there, as
        they would have had points out of order)."""
        ring = self._values.get(key)
        if ring is None:
            return []
        count = min(self._writes, self.capacity)
        times, capacity = self._times, self.capacity
        result = []
        for position in range(self._writes - 1, self._writes - count - 1, -1):
            slot = position % capacity
            at = times[slot]
            if since is not None and at < since:
                break
            value = ring[slot]
            if value == value:  # not NaN
                result.append((at, value))
        result.reverse()
        return result

    def keys(self) -> list[SeriesKey]:
        return list(self._values)
