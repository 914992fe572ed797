"""Cost of alert evaluation on a churning label: one `prometheus` source scraped every 250 ms
whose `req_seen` series get 5 new `request_id` values per scrape (those of the scrape before
are gone), and an alert on `req_seen > -1` without a label filter. Every series fires and
resolves a scrape later, so the alert gathers resolutions: the soak that found this kept
17,900 of them, listed 15 minutes each.

Simulated time (the engine takes `now`), so the 1,000 s of the soak run in a few minutes.
Measured per evaluation over the last 100 s, when what is kept has stopped growing, with the
size of the /api/v1/alerts document at the end. Three engines in the same run:

- before: the engine as it was before resolutions were capped (monitor/alerts/engine.py at
  commit 22f72a9, loaded from git; `--before REV` for another);
- no cap: today's engine with RESOLVED_PER_ALERT lifted, so it keeps as many instances as
  "before" did: the cost of keeping the display order per change alone;
- monitor: today's engine as it runs.

    python bench/bench_alerts_churn.py [--seconds 1000] [--before 22f72a9]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable

from revisions import module_at

from monitor.alerts.definitions import AlertSettings
from monitor.alerts.engine import RESOLVED_PER_ALERT, AlertEngine
from monitor.exporter.alerts import alerts_json
from monitor.model import SourceHealth
from monitor.store import MetricsStore

SCRAPE = 0.25
PER_SCRAPE = 5
MEASURED = 100.0
"""Seconds at the end of the run whose evaluations are measured."""
RULE = {"name": "Seen", "source": "app", "metric": "req_seen", "op": ">", "threshold": -1}


def run(make: Callable[[list[AlertSettings]], object], seconds: float) -> tuple[list[float], int, int]:
    """Per-evaluation times (s) over the last MEASURED seconds; instances listed and the size
    of the /api/v1/alerts document (bytes) at the end."""
    store = MetricsStore(history=0)
    store.add_source("app", "prometheus", SCRAPE)
    engine = make([AlertSettings.model_validate(RULE)])
    ids = itertools.count()
    now = 1_800_000_000.0
    end = now + seconds
    timings = []
    while now < end:
        now += SCRAPE
        health = SourceHealth(up=True, collections=1, last_attempt=now, last_success=now, stale_after=1e9)
        series = {("req_seen", (("request_id", str(next(ids))),)): 1.0 for _ in range(PER_SCRAPE)}
        snapshot = store.publish("app", health, series)
        started = time.perf_counter()
        engine.evaluate(snapshot, now)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        if now > end - MEASURED:
            timings.append(elapsed)
    view = engine.view  # type: ignore[attr-defined]
    return timings, len(view.alerts), len(json.dumps(alerts_json(view, lambda: now)).encode())


def report(name: str, timings: list[float], listed: int, size: int) -> float:
    median = statistics.median(timings) * 1e6
    p99 = statistics.quantiles(timings, n=100)[98] * 1e6
    print(
        f"{name:<34} median {median:9.1f} µs  p99 {p99:9.1f} µs per evaluation"
        f" ({median * 4 / 1e4:5.2f}% of a core at 4/s); {listed:6,} listed, /api/v1/alerts {size / 1e6:5.2f} MB"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1000.0, help="simulated seconds (default 1000)")
    parser.add_argument("--before", default="22f72a9", help="git revision of the engine before the cap")
    args = parser.parse_args()
    logging.getLogger("monitor.alerts.engine").setLevel(logging.ERROR)  # its warning about this alert
    before = module_at(args.before, "monitor/alerts/engine.py")
    print(
        f"one source, a scrape every {SCRAPE * 1000:.0f} ms with {PER_SCRAPE} new request ids, one alert "
        f"without a label filter; {args.seconds:g} s simulated, the last {MEASURED:g} s measured"
    )
    theirs = report(f"before ({args.before}, keeps all)", *run(before.AlertEngine, args.seconds))
    lifted = report(
        "no cap, order kept per change",
        *run(lambda rules: AlertEngine(rules, resolved_per_alert=sys.maxsize), args.seconds),
    )
    ours = report(f"monitor (cap {RESOLVED_PER_ALERT} per alert)", *run(AlertEngine, args.seconds))
    print(
        f"=> monitor is {theirs / ours:.0f}x faster than before per evaluation; "
        f"keeping the order per change alone, with as many kept: {theirs / lifted:.0f}x"
    )


if __name__ == "__main__":
    main()
