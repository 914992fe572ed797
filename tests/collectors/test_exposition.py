"""The series cap counts what it does not parse, exactly, however the page is laid out."""

from __future__ import annotations

import pytest

import collectors.exposition as exposition
from collectors.exposition import ExpositionParser


def page(families: int, per_family: int) -> str:
    lines = []
    for f in range(families):
        lines += [f"# HELP fam{f}_total Family {f}.", f"# TYPE fam{f}_total counter", ""]
        lines += [f'fam{f}_total{{n="{i}"}} {i}' for i in range(per_family)]
    return "\n".join(lines)  # no trailing newline: the last line still counts


@pytest.mark.parametrize("direct_max", [0, exposition.DIRECT_MAX_CHARS])
@pytest.mark.parametrize("cap", [1, 7, 150, 299, 300, 10_000])
@pytest.mark.parametrize("include", [[], ["fam1", "fam2_total"]])
def test_kept_plus_dropped_is_every_wanted_series(monkeypatch, direct_max, cap, include):
    monkeypatch.setattr(exposition, "DIRECT_MAX_CHARS", direct_max)
    monkeypatch.setattr(exposition, "COUNT_CHUNK", 64)  # many chunk boundaries
    text = page(families=3, per_family=100)
    everything = ExpositionParser(include, [], 1_000_000).parse(text)
    capped = ExpositionParser(include, [], cap).parse(text)
    assert len(capped.samples) == min(cap, len(everything.samples))
    assert len(capped.samples) + capped.dropped == len(everything.samples) == (200 if include else 300)
