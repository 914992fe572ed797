"""Unit-aware text for values and ages, so every screen and every alert summary writes 1.2 GiB,
45.0 % and 340 ms alike."""

from __future__ import annotations

import math

from monitor.model import Unit

BINARY_PREFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
DECIMAL_PREFIXES = ("", "k", "M", "G", "T", "P")


def format_value(value: float, unit: Unit = Unit.NONE, rate: bool = False, now: float | None = None) -> str:
    """`rate` marks a per-second value derived from a counter: it gets a "/s" suffix. `now` is
    the time a timestamp's age is counted to: the time it was collected, so the text is the
    same however late the screen is drawn."""
    if math.isnan(value):
        return "–"
    if math.isinf(value):  # spelled as on /metrics
        return "+Inf" if value > 0 else "-Inf"
    if unit is Unit.TIMESTAMP:
        if now is None:
            raise ValueError("a timestamp is shown as an age: pass the time to count it to (now)")
        return format_timestamp(value, now)
    per = "/s" if rate else ""
    if unit is Unit.BYTES:
        return _scaled(value, 1024.0, BINARY_PREFIXES) + per
    if unit is Unit.RATIO:
        return format_percent(value) + per
    if unit is Unit.SECONDS:
        return format_duration(value) + per
    if unit is Unit.CELSIUS:
        return f"{value:.1f} °C"
    if unit is Unit.RPM:
        return f"{value:.0f} rpm"
    if unit is Unit.DAYS:
        return f"{value:.1f} d"
    return _scaled(value, 1000.0, DECIMAL_PREFIXES).rstrip() + per


def format_percent(ratio: float) -> str:
    """One decimal (45.6 %), but a ratio too small for it keeps one significant digit: 0.00042,
    written 0.0 %, read as nothing at all. Only zero is 0.0 %."""
    percent = ratio * 100 + 0.0  # -0.0 is 0.0 %
    if percent == 0 or round(percent, 1) != 0:
        return f"{percent:.1f} %"
    return f"{percent:.1g} %"


def _scaled(value: float, base: float, prefixes: tuple[str, ...]) -> str:
    """Three significant digits and a prefix; a value that rounds up to `base` (999.7, 1023.7
    bytes) is written with the next prefix, as 1 k, never as 1e+03."""
    if float(value).is_integer() and abs(value) < base:
        return f"{value:.0f} {prefixes[0]}"
    magnitude = abs(value)
    index = 0
    while magnitude >= base and index < len(prefixes) - 1:
        magnitude /= base
        index += 1
    last = len(prefixes) - 1
    text = _three_digits(magnitude, index == last)
    if float(text) >= base and index < last:
        magnitude /= base
        index += 1
        text = _three_digits(magnitude, index == last)
    return f"{'-' if value < 0 else ''}{text} {prefixes[index]}"


def _three_digits(magnitude: float, last_prefix: bool) -> str:
    """1000 to 1023 stay whole (bytes below a KiB); past the last prefix, an exponent: 8.88e+14
    PiB, not fifteen digits that push the row out of its panel."""
    if magnitude < 999.5 or (last_prefix and magnitude >= 1e4):
        return f"{magnitude:.3g}"
    return f"{magnitude:.0f}"


TIME_AXES = ((1e-6, 1e9, "ns"), (1e-3, 1e6, "µs"), (1.0, 1e3, "ms"), (120.0, 1.0, "s"))
TIME_AXES_LONG = ((7200.0, 1 / 60, "min"), (172800.0, 1 / 3600, "h"), (math.inf, 1 / 86400, "d"))
UNIT_AXES = {Unit.CELSIUS: "°C", Unit.RPM: "rpm", Unit.DAYS: "days", Unit.TIMESTAMP: "Unix time"}


def axis_scale(largest: float, unit: Unit = Unit.NONE) -> tuple[float, str]:
    """What to multiply a chart's values by, and the unit its axis is then in, for values up to
    `largest` (in magnitude): a memory chart in GiB ticks at 7.5, not 8053063680.0, and a chart
    of 1e-300 draws at all (plotext cannot place ticks that small)."""
    if unit is Unit.RATIO:
        return 100.0, "%"
    if unit in UNIT_AXES:
        return 1.0, UNIT_AXES[unit]
    if unit is Unit.SECONDS:
        if not largest:  # nothing to chart, or all zero: not "ns"
            return 1.0, "s"
        for below, factor, suffix in TIME_AXES + TIME_AXES_LONG:
            if largest < below:
                return factor, suffix
    if unit is Unit.BYTES:
        index = 0
        while largest >= 1024.0 ** (index + 1) and index < len(BINARY_PREFIXES) - 1:
            index += 1
        return 1024.0**-index, BINARY_PREFIXES[index]
    if largest == 0 or not math.isfinite(largest) or 1e-3 <= largest < 1000.0:
        return 1.0, "no unit"  # a load of 0.26 reads as 0.26, not as 260 ×1e-3
    exponent = max(-306, 3 * math.floor(math.log10(largest) / 3))  # 1e312 overflows a float
    return 10.0**-exponent, f"×1e{exponent}"


DURATION_UNITS = (("ns", 1e9, 1000.0), ("µs", 1e6, 1000.0), ("ms", 1e3, 1000.0), ("s", 1.0, 60.0))
"""(suffix, scale, the rounded size at which the next unit takes over)."""


def format_duration(seconds: float) -> str:
    """Durations from nanoseconds (a GC pause) to days (an uptime). A negative one (a clock
    offset, a lag) reads like a positive one with a minus sign, not as millions of µs. A value
    that rounds up to the next unit is written in it (1.0 s, never 1000 ms)."""
    if seconds == 0:
        return "0 s"
    sign = "-" if seconds < 0 else ""
    size = abs(seconds)
    for suffix, scale, limit in DURATION_UNITS:
        scaled = size * scale
        decimals = 0 if suffix in ("ns", "µs") or (suffix == "ms" and scaled >= 9.95) else 1
        if round(scaled, decimals) < limit:
            return f"{sign}{scaled:.{decimals}f} {suffix}"
    return sign + format_age(round(size))  # 59.97 s is 1m00s, not 59s


def format_timestamp(timestamp: float, now: float) -> str:
    """A point in time as its distance from `now`: 3d04h ago, in 2m00s. Zero is the usual
    "never happened" (a last-success time before the first success), not 1970."""
    if timestamp <= 0:
        return "never"
    age = now - timestamp
    return f"{format_age(age)} ago" if age >= 0 else f"in {format_age(-age)}"


def format_age(seconds: float) -> str:
    """A compact age for badges and banners: 0.4s, 12s, 3m20s, 2h05m, 4d03h."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"
