"""Cost of reading the dashboard's sparklines out of a full history window: 100 sources x 20
series, each source's ring filled past its 15-minute window at 1 s (the default chart window,
900 collections), then every series' last 31 s read with `points(key, since)`, as each panel
redraw asks for them. Before and after in the same run:

- before: monitor/history.py at commit 8b95c50, which walked the whole window for every read
  (loaded from git; `--before REV` for another);
- monitor: today's, which walks back from the newest point to `since`.

A dashboard started fresh does not show this: its rings hold only the minute the benchmark
runs (bench_dashboard.py), so the cost grew for 15 minutes and then stayed.

    python bench/bench_history.py [--before 8b95c50] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import ModuleType

from revisions import module_at

from monitor.history import SourceHistory

SOURCES = 100
SERIES = 20
WINDOW = 900
SPARKLINE_SECONDS = 31.0
TICKS = WINDOW + 100


def filled(history_class: type) -> list[tuple[object, list]]:
    """Every source's ring, wrapped once past its window, with its series keys."""
    keys = [("bench_value", (("series", str(n)),)) for n in range(SERIES)]
    rings = []
    for _ in range(SOURCES):
        ring = history_class(WINDOW + 1, SERIES)
        for tick in range(TICKS):
            ring.append(float(tick), {key: float(tick % 7) for key in keys})
        rings.append((ring, keys))
    return rings


def one_redraw(rings: list[tuple[object, list]]) -> float:
    """Seconds to read every series' sparkline once: what a refresh of all panels asks for."""
    since = TICKS - SPARKLINE_SECONDS
    started = time.perf_counter()
    for ring, keys in rings:
        for key in keys:
            ring.points(key, since)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="8b95c50", help="git revision of history.py before")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    before: ModuleType = module_at(args.before, "monitor/history.py")
    contenders = {f"before ({args.before})": filled(before.SourceHistory), "monitor": filled(SourceHistory)}
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):  # alternated, so both see the same machine
        for name, rings in contenders.items():
            timings[name].append(one_redraw(rings))
    print(
        f"{SOURCES} sources x {SERIES} series, {WINDOW}-point windows full, last {SPARKLINE_SECONDS:g} s read"
    )
    medians = {}
    for name, values in timings.items():
        medians[name] = statistics.median(values)
        per_series = medians[name] / (SOURCES * SERIES) * 1e6
        print(
            f"{name:<22} median {medians[name] * 1e3:8.2f} ms per redraw of every panel ({per_series:6.1f} µs a series)"
        )
    old, new = medians.values()
    print(f"=> monitor reads the sparklines {old / new:.0f}x faster than before")


if __name__ == "__main__":
    main()
