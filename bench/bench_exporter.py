"""Benchmark of /metrics: 100 sources x 100 series, every source publishing every second.

Runs the exporter exactly as `monitor --headless` does (Runtime with pollers and exporter) in a
child process, so the scrapers' own CPU is not counted, and measures in the same run:

- baseline: prometheus_client generate_latest over a registry of the same 10,000 labelled
  Gauges, and the ratio of its median to the /metrics median;
- 20 concurrent scrapers for 30 s, each scraping every 100 ms (200 scrapes/s), then back to
  back (saturation): latency percentiles, failed requests, and whether the pollers kept their
  schedule (overruns, collections per source);
- freshness: a scrape never serves a value older than what the store held when it began;
- the child's CPU with one scrape a second and with one scrape every 15 s.

    python bench/bench_exporter.py            # about 2.5 minutes
    python bench/bench_exporter.py --quick    # shorter windows, rougher figures
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable

import aiohttp
import psutil
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from monitor.config import parse_config
from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, Collector, CollectorOptions
from monitor.registry import Registry
from monitor.runtime import Runtime

SOURCES = 100
NAMES = 10
SHARDS = 10  # NAMES x SHARDS = 100 series per source


class SyntheticCollector(Collector[CollectorOptions]):
    """Costs next to nothing: the label tuples are built once, only values change."""

    name = "synthetic"
    description = "benchmark load"
    metrics = tuple(
        MetricSpec(f"synthetic_value_{n}", "A synthetic benchmark value.", labels=("shard",))
        for n in range(NAMES)
    )

    def setup(self) -> None:
        self.keys = [
            (f"synthetic_value_{n}", (("shard", str(s)),)) for n in range(NAMES) for s in range(SHARDS)
        ]
        self.tick = 0

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        self.tick += 1
        return [Sample(name, float(self.tick + i), labels) for i, (name, labels) in enumerate(self.keys)]


def serve(port: int) -> None:
    """The child: pollers + exporter, until SIGTERM."""
    text = "interval: 1s\nsources:\n" + "".join(
        f"  - {{name: s{i:03d}, collector: synthetic}}\n" for i in range(SOURCES)
    )
    config = parse_config(text, "bench.yaml", registry=Registry.of(SyntheticCollector))
    runtime = Runtime(config, serve_metrics=True, listen=f"127.0.0.1:{port}", keep_history=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime.start()
    print("ready", flush=True)
    stop.wait()
    runtime.stop()


def baseline(repeat: int) -> list[float]:
    registry = CollectorRegistry()
    for n in range(NAMES):
        gauge = Gauge(
            f"synthetic_value_{n}", "A synthetic benchmark value.", ["source", "shard"], registry=registry
        )
        for i in range(SOURCES):
            for s in range(SHARDS):
                gauge.labels(f"s{i:03d}", str(s)).set(i + s)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        generate_latest(registry)
        timings.append(time.perf_counter() - started)
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


async def scrape(session: aiohttp.ClientSession, url: str) -> tuple[float, bool, bytes]:
    started = time.perf_counter()
    try:
        async with session.get(url) as response:
            body = await response.read()
            ok = response.status == 200 and body.startswith(b"# HELP")
    except aiohttp.ClientError:
        ok, body = False, b""
    return time.perf_counter() - started, ok, body


async def sources(session: aiohttp.ClientSession, base: str) -> dict:
    async with session.get(f"{base}/api/v1/sources") as response:
        return (await response.json())["sources"]


async def sequential(session: aiohttp.ClientSession, base: str, seconds: float) -> list[float]:
    timings = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        elapsed, ok, _ = await scrape(session, f"{base}/metrics")
        assert ok
        timings.append(elapsed)
    return timings


async def concurrent(
    session: aiohttp.ClientSession, base: str, scrapers: int, seconds: float, every: float
) -> dict:
    """`scrapers` tasks each scraping every `every` seconds (0: back to back, saturating)."""
    before = await sources(session, base)
    timings: list[float] = []
    failures = 0
    end = time.monotonic() + seconds

    async def scraper(offset: float) -> None:
        nonlocal failures
        await asyncio.sleep(offset)
        while time.monotonic() < end:
            tick = time.monotonic()
            elapsed, ok, _ = await scrape(session, f"{base}/metrics")
            timings.append(elapsed)
            failures += not ok
            await asyncio.sleep(max(0.0, every - (time.monotonic() - tick)))

    started = time.monotonic()
    await asyncio.gather(*(scraper(every * i / scrapers) for i in range(scrapers)))
    duration = time.monotonic() - started
    after = await sources(session, base)
    collections = [after[n]["collections"] - before[n]["collections"] for n in after]
    overruns = sum(after[n]["overruns_total"] - before[n]["overruns_total"] for n in after)
    return {
        "requests": len(timings),
        "failures": failures,
        "p50": percentile(timings, 50),
        "p99": percentile(timings, 99),
        "max": max(timings),
        "collections": (min(collections), max(collections)),
        "expected": duration,
        "overruns": overruns,
    }


async def freshness(session: aiohttp.ClientSession, base: str, rounds: int) -> tuple[int, float]:
    """Read the store's last success for s000, then scrape: /metrics must be at least as new."""
    stale, worst_age = 0, 0.0
    for _ in range(rounds):
        known = (await sources(session, base))["s000"]["last_success"]
        _, ok, body = await scrape(session, f"{base}/metrics")
        assert ok
        prefix = b'monitor_source_last_success_timestamp_seconds{source="s000"} '
        start = body.index(prefix) + len(prefix)
        served = float(body[start : body.index(b"\n", start)])
        stale += served < known
        worst_age = max(worst_age, time.time() - served)
        await asyncio.sleep(0.05)
    return stale, worst_age


async def cpu_share(
    session: aiohttp.ClientSession, base: str, child: psutil.Process, every: float, seconds: float
):
    before = child.cpu_times()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        tick = time.monotonic()
        _, ok, _ = await scrape(session, f"{base}/metrics")
        assert ok
        await asyncio.sleep(max(0.0, every - (time.monotonic() - tick)))
    after = child.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return used / (time.monotonic() - started)


async def measure(port: int, child: psutil.Process, quick: bool) -> None:
    base = f"http://127.0.0.1:{port}"
    scale = 0.25 if quick else 1.0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            state = await sources(session, base)
            if len(state) == SOURCES and all(s["state"] == "up" for s in state.values()):
                break
            await asyncio.sleep(0.2)
        _, _, body = await scrape(session, f"{base}/metrics")
        series = sum(1 for line in body.splitlines() if line.startswith(b"synthetic_value_"))
        print(f"/metrics: {series} synthetic series, {len(body) / 1e6:.2f} MB per scrape")
        if series != SOURCES * NAMES * SHARDS:  # measuring an empty page would look like a triumph
            raise SystemExit(
                f"expected {SOURCES * NAMES * SHARDS} synthetic series on /metrics, found {series}"
            )

        base_times = baseline(20 if quick else 40)
        base_median = statistics.median(base_times)
        print(f"baseline generate_latest, 10,000 labelled Gauges: median {ms(base_median)}")

        seq = await sequential(session, base, 10 * scale)
        seq_median = statistics.median(seq)
        print(
            f"/metrics one scraper, back to back ({len(seq)} scrapes): median {ms(seq_median)}, "
            f"p99 {ms(percentile(seq, 99))}; baseline/median = {base_median / seq_median:.1f}x"
        )

        for every, seconds, what in (
            (0.1, 30 * scale, "each every 100 ms"),
            (0.0, 10 * scale, "back to back"),
        ):
            result = await concurrent(session, base, 20, seconds, every)
            low, high = result["collections"]
            print(
                f"20 concurrent scrapers, {what}, for {result['expected']:.0f} s: {result['requests']} "
                f"requests ({result['requests'] / result['expected']:.0f}/s), {result['failures']} failed, "
                f"p50 {ms(result['p50'])}, p99 {ms(result['p99'])}, max {ms(result['max'])}; pollers: "
                f"{low}-{high} collections per source (schedule: {result['expected']:.0f}), "
                f"{result['overruns']} overruns"
            )

        stale, age = await freshness(session, base, 50 if quick else 200)
        print(f"freshness: {stale} scrapes older than the store; oldest value served {age:.2f} s old")

        for every, seconds in ((1.0, 30 * scale), (15.0, 60 * scale if not quick else 30)):
            share = await cpu_share(session, base, child, every, seconds)
            print(f"process CPU with one scrape every {every:g} s: {share * 100:.1f}% of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="shorter measurement windows")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        asyncio.run(measure(port, psutil.Process(child.pid), args.quick))
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(10)


if __name__ == "__main__":
    main()
