"""Human durations (`250ms`, `2s`, `1m30s`, `1h`) as used throughout config.yaml."""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_BLANK = " \t\r\n"
"""What may surround a duration in quotes (`" 2s "`); ASCII only, like the digits (`\\d` and
str.strip() would take `٣s` and a no-break space), so the schema's pattern says the same."""
_SEXAGESIMAL = re.compile(r"[0-9]+(?::[0-9]+){1,2}")
MAX_DURATION = 365 * 86400.0
"""Longer waits overflow the platform's timers (threading's TIMEOUT_MAX), and no interval,
timeout or window a monitor needs is longer than a year."""


def parse_duration(value: object, allow_zero: bool = False) -> float:
    """Return seconds. Plain numbers are seconds; anything else must be unit-suffixed. YAML's
    `.nan` and `.inf` are numbers too, and no duration: they would pass here and crash a
    poller (or the history's sizing) later."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip(_BLANK)
        body = text.removeprefix("-")  # read, so that `-1s` is told it must be positive
        parts = _PART.findall(body)
        if not body or "".join(n + u for n, u in parts) != body:
            raise ValueError(
                f"expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got {value!r}{_sexagesimal_hint(text)}"
            )
        sign = -1.0 if text.startswith("-") else 1.0
        seconds = sign * sum(float(number) * _UNITS[unit] for number, unit in parts)
    else:
        raise ValueError(f"expected a duration like 250ms, 2s, 1m30s, 1h or 1d, got {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, got {value!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"a duration must be at most {MAX_DURATION // 86400:.0f}d, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"a duration must be {'zero or more' if allow_zero else 'positive'}, got {value!r}")
    return seconds


def _sexagesimal_hint(text: str) -> str:
    """YAML 1.1 read `1:30` as 90 (base 60); YAML 1.2, which monitor reads, as text."""
    if not _SEXAGESIMAL.fullmatch(text):
        return ""
    numbers = [int(n) for n in text.split(":")]
    written = "".join(
        f"{n}{unit}" for n, unit in zip(numbers, ("h", "m", "s")[-len(numbers) :], strict=True) if n
    )
    return f" (for {text} write {written})" if written else ""


def _schema(minimum: dict[str, float], *, zero: bool) -> WithJsonSchema:
    """The JSON Schema of a duration, for `monitor schema`. Positive durations' text must hold
    a digit 1-9 (`0s` and `0.0m` are zero). What a pattern cannot add up (`400d` is over the
    365d limit, `5ms` under an interval's 10ms) only `monitor check` finds."""
    blank = f"[{_BLANK.encode('unicode_escape').decode()}]*"
    nonzero = "" if zero else "(?=[^1-9]*[1-9])"
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^{blank}{nonzero}(?:{_PART.pattern})+{blank}$"},
                {"type": "number", "maximum": MAX_DURATION, **minimum},
            ],
            "description": "A duration: 250ms, 2s, 1m30s, 1h, 1d (a bare number is seconds).",
        }
    )


def format_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    if seconds < 3600 or seconds % 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    _schema({"exclusiveMinimum": 0}, zero=False),
]
"""A pydantic field type: seconds as a float, written in config as `2s`."""

Hold = Annotated[
    float,
    BeforeValidator(functools.partial(parse_duration, allow_zero=True)),
    PlainSerializer(format_duration, return_type=str),
    _schema({"minimum": 0}, zero=True),
]
"""A duration that may be zero: how long a condition must hold (an alert's `for`)."""

MIN_INTERVAL = 0.01


def _often_enough(seconds: float) -> float:
    """A poll or redraw every millisecond would spend a core on overhead, and no screen or
    scrape could show the difference: likely a typo (`1ms` for `1m`)."""
    if seconds < MIN_INTERVAL:
        raise ValueError(f"must be at least {format_duration(MIN_INTERVAL)}, got {format_duration(seconds)}")
    return seconds


Interval = Annotated[Duration, AfterValidator(_often_enough), _schema({"minimum": MIN_INTERVAL}, zero=False)]
"""How often something repeats (a source's interval, the dashboard's refresh): at least 10ms."""
