"""Checks what a collector returned before it reaches the store.

A plugin's bug (a string value, None, a bad metric name) must become that source's error,
never a broken /metrics page or a crashed poller. Names and label sets already seen valid are
cached, so the steady-state cost is two set lookups per sample.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable

from monitor.model import Labels, Sample, SeriesKey

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"source"})


class InvalidSample(Exception):
    """A collector returned something that is not a valid sample."""


class SampleValidator:
    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self._good_names: set[str] = set()
        self._good_labels: set[Labels] = set()

    def validate(self, samples: Iterable[Sample]) -> tuple[dict[SeriesKey, float], int]:
        """Return the series to publish and how many were dropped by the series cap."""
        if samples is None:
            raise InvalidSample("collect() returned None; return an iterable of Sample (it may be empty)")
        series: dict[SeriesKey, float] = {}
        dropped = 0
        for index, sample in enumerate(samples):
            if type(sample) is not Sample:
                raise InvalidSample(
                    f"item {index} is a {type(sample).__name__}, not a Sample: {_short(sample)}"
                )
            value = sample.value
            if type(value) is not float:
                value = self._number(sample, index)
            if sample.name not in self._good_names:
                self._check_name(sample, index)
            if sample.labels and sample.labels not in self._good_labels:
                self._check_labels(sample)
            key = (sample.name, sample.labels)
            if len(series) >= self.max_series and key not in series:
                dropped += 1
                continue
            series[key] = value
        return series, dropped

    @staticmethod
    def _number(sample: Sample, index: int) -> float:
        value = sample.value
        if isinstance(value, numbers.Real):
            return float(value)
        raise InvalidSample(
            f"sample {sample.name!r} (item {index}) has value {_short(value)} of type "
            f"{type(value).__name__}; expected a number (NaN and ±Inf are allowed)"
        )

    def _check_name(self, sample: Sample, index: int) -> None:
        if not isinstance(sample.name, str) or not METRIC_NAME.match(sample.name):
            raise InvalidSample(
                f"item {index} has invalid metric name {_short(sample.name)}; "
                "names match [a-zA-Z_:][a-zA-Z0-9_:]*"
            )
        self._good_names.add(sample.name)

    def _check_labels(self, sample: Sample) -> None:
        names = [name for name, _ in sample.labels]
        for name, value in sample.labels:
            if not isinstance(name, str) or not LABEL_NAME.match(name) or name.startswith("__"):
                raise InvalidSample(f"sample {sample.name!r} has invalid label name {_short(name)}")
            if name in RESERVED_LABELS:
                raise InvalidSample(f"sample {sample.name!r} uses the reserved label {name!r}")
            if type(value) is not str:
                raise InvalidSample(
                    f"sample {sample.name!r} label {name!r} has a {type(value).__name__} value; "
                    "label values are strings"
                )
        if len(set(names)) != len(names):
            raise InvalidSample(f"sample {sample.name!r} repeats a label name")
        if len(self._good_labels) >= 4 * self.max_series:
            self._good_labels.clear()  # label churn: keep the cache bounded too
        self._good_labels.add(sample.labels)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
