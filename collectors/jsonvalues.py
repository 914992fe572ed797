"""JSON values as sample values, shared by the collectors that read JSON (http, command)."""

from __future__ import annotations

from typing import Any


def json_number(value: Any) -> float | None:
    """Numbers, booleans (1/0) and numeric strings ("42", as many APIs quote them); else None."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
