"""Every way a source can misbehave, all at once in one real `monitor --headless`: each faulty
source shows down (or capped) with a clear error within timeout + one interval, while the
healthy ones keep their schedule and /metrics stays valid, responsive and bounded."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

from tests.faults.harness import MonitorProcess, http_get, promtool_problems, wait_for
from tests.faults.servers import Switch, black_hole, fault_server

INTERVAL = 1.0
HEALTHY_INTERVAL = 2.0
"""Healthy sources poll every 2 s, so "p99 lateness <= 10% of the interval" means 200 ms."""
MARGIN = 5.0
"""Added to every "within timeout + one interval" wait: process start, the start jitter, polls."""
OBSERVE = 12.0
RSS_LIMIT = 400 * 1024 * 1024
"""Memory bound: a 50 MiB response and 100,000 series must not be held (RSS is ~60 MB idle)."""

HEALTHY = ("healthy_http", "healthy_prometheus", "healthy_command")
# source name -> (timeout, pattern its last_error (or partial error, for capped) must match)
EXPECTED_DOWN = {
    "black_hole": (0.5, r"no response within 0\.5s"),
    "slow": (1.0, r"no response within 1s"),
    "huge": (1.0, r"response larger than max_response_size"),
    "mid_body_close": (0.5, r"the response body was cut short|Content-Length|payload"),
    "raises": (1.0, r"RuntimeError: plugin exploded on purpose"),
    "returns_string": (1.0, r"value 'forty-two' of type str; expected a number"),
    "returns_none": (1.0, r"collect\(\) returned None"),
    "blocks": (0.5, r"collection hung: .* does not honour its timeout"),
}


def fault_config(url: str, healthy_url: str, black_hole_port: int) -> str:
    """Healthy sources poll their own server: the faulty routes keep the test process busy."""
    return f"""
max_backoff: 2s
sources:
  - {{name: healthy_http, collector: http, url: "{healthy_url}/json", interval: 2s, timeout: 1s}}
  - {{name: healthy_prometheus, collector: prometheus, url: "{healthy_url}/flappy", interval: 2s, timeout: 1s}}
  - {{name: healthy_command, collector: command, argv: [echo, "1"], interval: 2s}}
  - name: black_hole
    collector: prometheus
    url: "http://127.0.0.1:{black_hole_port}/metrics"
    interval: 1s
    timeout: 500ms
  - {{name: slow, collector: prometheus, url: "{url}/slow2x", interval: 1s, timeout: 1s}}
  - name: cardinality
    collector: prometheus
    url: "{url}/many?n=100000"
    interval: 1s
    timeout: 1s
    max_series: 1000
  - {{name: huge, collector: http, url: "{url}/huge", interval: 1s, timeout: 1s}}
  - {{name: mid_body_close, collector: http, url: "{url}/truncated", interval: 1s, timeout: 500ms}}
  - {{name: raises, collector: fault_raise, interval: 1s}}
  - {{name: returns_nan, collector: fault_garbage, returns: nan, interval: 1s}}
  - {{name: returns_string, collector: fault_garbage, returns: string, interval: 1s}}
  - {{name: returns_none, collector: fault_garbage, returns: none, interval: 1s}}
  - {{name: blocks, collector: fault_block, interval: 1s, timeout: 500ms}}
  - {{name: label_chaos, collector: prometheus, url: "{url}/chaos", interval: 1s}}
"""


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def test_faulty_sources_are_reported_and_healthy_ones_keep_their_schedule(tmp_path: Path) -> None:
    config = tmp_path / "faults.yaml"
    with fault_server() as server, fault_server() as healthy_server, black_hole() as hole_port:
        config.write_text(fault_config(server.url, healthy_server.url, hole_port))
        with MonitorProcess(config) as monitor:
            for name, (timeout, pattern) in EXPECTED_DOWN.items():
                wait_for(
                    lambda name=name, pattern=pattern: _down_with(monitor.sources()[name], pattern),
                    timeout + INTERVAL + MARGIN,
                    f"source {name} down with an error matching {pattern!r}",
                )
            wait_for(
                lambda: any(
                    "over max_series" in e for e in monitor.sources()["cardinality"]["partial_errors"]
                ),
                1.0 + INTERVAL + MARGIN,
                "the cardinality explosion capped with a partial error",
            )
            lateness, scrapes, peak_rss = _observe(monitor)
            final = monitor.sources()
            text = monitor.metrics()

    for name in HEALTHY:
        health = final[name]
        assert health["up"] and health["errors_total"] == 0 and health["overruns_total"] == 0, (
            name,
            health,
            monitor.log()[-3000:],
        )
    assert len(lateness) >= len(HEALTHY) * 3, lateness
    assert p99(lateness) <= 0.1 * HEALTHY_INTERVAL, sorted(lateness)
    capped = final["cardinality"]
    assert capped["up"] and capped["series_count"] <= 1000
    assert final["returns_nan"]["up"]
    assert (
        b'value{source="returns_nan"} NaN' in text or b'fault_garbage_value{source="returns_nan"} NaN' in text
    )
    assert b'monitor_source_up{source="blocks"} 0.0' in text
    assert promtool_problems(text) == ""
    assert scrapes > 0
    assert peak_rss < RSS_LIMIT, f"RSS reached {peak_rss / 2**20:.0f} MiB"
    assert 'chaos{source="label_chaos",what="two\\nlines"}' in text.decode()


def _down_with(health: dict, pattern: str) -> bool:
    return not health["up"] and health["last_error"] is not None and re.search(pattern, health["last_error"])


def _observe(monitor: MonitorProcess) -> tuple[list[float], int, int]:
    """Watch the healthy sources for OBSERVE seconds: how late each collection started against
    the tick its previous publish scheduled, and whether /metrics answers each time."""
    lateness: list[float] = []
    previous: dict[str, dict] = {}
    scrapes, peak_rss = 0, 0
    end = time.monotonic() + OBSERVE
    while time.monotonic() < end:
        sources = monitor.sources()
        for name in HEALTHY:
            health, before = sources[name], previous.get(name)
            if before is not None and health["collections"] == before["collections"] + 1:
                started = health["last_attempt"] - health["last_duration_seconds"]
                lateness.append(max(0.0, started - before["next_attempt"]))
            previous[name] = health
        status, _ = http_get(f"{monitor.url}/metrics")
        assert status == 200
        scrapes += 1
        peak_rss = max(peak_rss, monitor.rss())
        time.sleep(0.1)
    return lateness, scrapes, peak_rss


def test_a_failing_source_recovers_backoff_resets_and_counters_continue(tmp_path: Path) -> None:
    switch = Switch()
    config = tmp_path / "flappy.yaml"
    with fault_server(switch) as server:
        config.write_text(
            f"max_backoff: 1s\nsources:\n"
            f'  - {{name: flappy, collector: prometheus, url: "{server.url}/flappy", interval: 300ms}}\n'
        )
        with MonitorProcess(config) as monitor:
            wait_for(lambda: monitor.sources()["flappy"]["up"], MARGIN, "flappy up")
            switch.failing = True
            down = wait_for(
                lambda: (h := monitor.sources()["flappy"])["consecutive_failures"] >= 3 and h,
                MARGIN + 3,
                "flappy down three times in a row (backing off)",
            )
            assert "HTTP 503" in down["last_error"]
            switch.failing = False
            up = wait_for(lambda: (h := monitor.sources()["flappy"])["up"] and h, MARGIN, "flappy back up")
            later = wait_for(
                lambda: (h := monitor.sources()["flappy"])["collections"] >= up["collections"] + 3 and h,
                MARGIN,
                "flappy polling at its interval again",
            )
            text = monitor.metrics()
    assert up["consecutive_failures"] == 0 and up["last_error"] is None
    assert up["errors_total"] >= 3  # a counter: recovery does not reset it
    assert later["up"] and later["errors_total"] == up["errors_total"]
    assert b'flappy{source="flappy"} 1.0' in text
    assert b'monitor_source_up{source="flappy"} 1.0' in text
