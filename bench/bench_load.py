"""Load: 50 concurrent scrapers hammer /metrics for 60 s while the dashboard runs in tmux with
100 sources x 20 series at 1 s.

The dashboard is bench_dashboard.py's child (the real MonitorApp over the real Runtime, its
timer ticks counted), in a 160x50 tmux session. Reported: failed requests (target 0), scrape
latency p50/p99/max, poller lateness (a collection's start against the tick its previous
publish scheduled, from /api/v1/sources) and dashboard refreshes delivered against those due.
Baseline in the same run: a second, identical session scraped by one sequential scraper.

    python bench/bench_load.py [--seconds 60] [--scrapers 50] [--sources 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from bench_dashboard import WARMUP, Session

BASELINE_SECONDS = 20.0


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    lateness: list[float] = field(default_factory=list)
    refreshes: dict = field(default_factory=dict)


def listening_port(process: psutil.Process, deadline: float = 30.0) -> int:
    """The exporter's port: the child picks a free one itself."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for child in [process, *process.children(recursive=True)]:
            for connection in child.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    return connection.laddr.port
        time.sleep(0.2)
    raise SystemExit("the dashboard's exporter did not start listening")


async def scraper(session: aiohttp.ClientSession, url: str, until: float, phase: Phase) -> None:
    while time.monotonic() < until:
        began = time.perf_counter()
        try:
            async with session.get(url) as response:
                await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        phase.latencies.append(time.perf_counter() - began)
        phase.failures += not ok


async def lateness(session: aiohttp.ClientSession, url: str, until: float, phase: Phase) -> None:
    previous: dict[str, dict] = {}
    while time.monotonic() < until:
        async with session.get(url) as response:
            sources = (await response.json())["sources"]
        for name, health in sources.items():
            before = previous.get(name)
            if before is not None and health["collections"] == before["collections"] + 1:
                started = health["last_attempt"] - health["last_duration_seconds"]
                phase.lateness.append(max(0.0, started - before["next_attempt"]))
            previous[name] = health
        await asyncio.sleep(0.3)


async def hammer(port: int, scrapers: int, seconds: float) -> Phase:
    phase = Phase()
    base = f"http://127.0.0.1:{port}"
    until = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=scrapers + 1)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(
            lateness(session, f"{base}/api/v1/sources", until, phase),
            *(scraper(session, f"{base}/metrics", until, phase) for _ in range(scrapers)),
        )
    return phase


def run_phase(name: str, sources: int, scrapers: int, seconds: float, folder: Path) -> Phase:
    stats = folder / f"{name}.json"
    dashboard = Path(__file__).with_name("bench_dashboard.py")
    session = Session(
        name,
        f"{shlex.quote(sys.executable)} {shlex.quote(str(dashboard))} --child {sources} "
        f"--child-seconds {seconds + WARMUP + 1} --stats {stats}",
    )
    try:
        port = listening_port(session.process)
        time.sleep(WARMUP)
        phase = asyncio.run(hammer(port, scrapers, seconds))
        deadline = time.monotonic() + 30
        while not stats.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        session.close()
    phase.refreshes = json.loads(stats.read_text()) if stats.exists() else {}
    return phase


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(name: str, phase: Phase, seconds: float) -> None:
    lat, late, ref = phase.latencies, phase.lateness, phase.refreshes
    print(
        f"   {name:9} {len(lat)} scrapes ({len(lat) / seconds:.0f}/s), failed {phase.failures}; "
        f"latency p50 {quantile(lat, 0.5) * 1000:.1f} ms, p99 {quantile(lat, 0.99) * 1000:.1f} ms, "
        f"max {max(lat) * 1000:.1f} ms"
    )
    print(
        f"   {'':9} poller lateness p50 {quantile(late, 0.5) * 1000:.1f} ms, "
        f"p99 {quantile(late, 0.99) * 1000:.1f} ms ({len(late)} collections); dashboard refreshes "
        f"{ref.get('refreshes', '?')} of {ref.get('due', '?')} due, slowest {ref.get('slowest', 0) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--sources", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    baseline = run_phase("baseline", args.sources, 1, BASELINE_SECONDS, folder)
    loaded = run_phase("load", args.sources, args.scrapers, args.seconds, folder)
    print(
        f"load: {args.scrapers} concurrent scrapers for {args.seconds:g} s on /metrics, dashboard in "
        f"160x50 tmux, {args.sources} sources x 20 series at 1 s (baseline: 1 scraper, {BASELINE_SECONDS:g} s)"
    )
    report("baseline", baseline, BASELINE_SECONDS)
    report("load", loaded, args.seconds)
    print(
        f"   => failed requests {loaded.failures} (target 0); p99 scrape latency "
        f"{quantile(loaded.latencies, 0.99) / quantile(baseline.latencies, 0.99):.1f}x the single scraper's; "
        f"poller lateness p99 {quantile(loaded.lateness, 0.99) / max(quantile(baseline.lateness, 0.99), 1e-4):.1f}x"
    )


if __name__ == "__main__":
    main()
