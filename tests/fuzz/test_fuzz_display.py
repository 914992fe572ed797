"""Whatever number a collector publishes (NaN, ±Inf, ±1e308, -0.0, 5e-324), every place that
writes or draws it gives text: a +Inf printed by a `command` once killed the whole dashboard."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.template import format_value as alert_value
from monitor.humanize import axis_scale, format_value
from monitor.model import Unit
from monitor.once import table_value
from monitor.tui.panel import SPARK_CHARS, sparkline

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
EXAMPLES = settings(max_examples=300, deadline=None)


@EXAMPLES
@given(ANY_FLOAT, st.sampled_from(list(Unit)), st.booleans())
def test_every_value_in_every_unit_is_written(value: float, unit: Unit, rate: bool) -> None:
    assert format_value(value, unit, rate=rate, now=1_795_565_951.0)
    assert alert_value(value, unit)
    assert table_value(value)


@EXAMPLES
@given(st.lists(ANY_FLOAT, max_size=40), st.integers(1, 30), st.booleans())
def test_every_history_is_drawn_one_block_per_value(values: list[float], width: int, ratio: bool) -> None:
    shown = values[-width:]  # a missing value (NaN) is a blank in its place; none at all, no line
    line = sparkline(values, width, ratio)
    if all(math.isnan(x) for x in shown):
        assert line == ""
        return
    assert len(line) == len(shown) and set(line) <= {*SPARK_CHARS, " "}
    assert [char == " " for char in line] == [math.isnan(x) for x in shown]


@EXAMPLES
@given(st.floats(min_value=0.0, allow_nan=False, allow_infinity=False))
def test_a_chart_of_any_size_is_scaled_to_readable_ticks(largest: float) -> None:
    """A chart of 1e-300 (too small for plotext to tick) or of 8e9 bytes gets an axis unit that
    brings its values between 1 and 1000."""
    named_range = {Unit.NONE: (1e-300, math.inf), Unit.SECONDS: (1e-9, 1000 * 86400), Unit.BYTES: (1, 2**60)}
    for unit, (low, high) in named_range.items():
        scale, label = axis_scale(largest, unit)
        scaled = largest * scale
        assert label and math.isfinite(scaled)
        if low <= largest < high:  # past the ends: below 1 ns, or over 1000 days or 1 EiB
            lowest = 1e-3 if unit is Unit.NONE else 0.99  # a plain 0.26 stays 0.26
            assert lowest <= scaled < 1024, (largest, unit, scale, label)
