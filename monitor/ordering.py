"""The order a person reads series in, shared by the dashboard and `monitor once`'s table."""

from __future__ import annotations

import functools
import math
import re

from monitor.model import SeriesKey


def reading_order(key: SeriesKey) -> tuple:
    """Sorts series as a person reads them: numbers by value (`cpu="2"` before `cpu="10"`,
    `le="0.005"` before `le="0.01"` and `+Inf` last, `node_load5` before `node_load15`), digits
    inside names by value (`eth2` before `eth10`), and named series before numbered ones, so an
    aggregate such as `cpu="total"` leads its per-core rows. Plain string order put cores 10 to
    15 between 1 and 2 and the total after all of them."""
    return natural_order(key[0]), tuple((label, natural_order(value)) for label, value in key[1])


_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=65536)
def natural_order(value: str) -> tuple:
    """Numbers by value, digits inside text by value (`node_load5` before `node_load15`), text
    before numbers."""
    try:
        number = float(value)
    except ValueError:
        parts = _DIGITS.split(value)
        return (0, tuple((1, int(part)) if part.isdigit() else (0, part) for part in parts), value)
    return (1, (math.inf, 1) if math.isnan(number) else (number, 0), value)
