"""Benchmark the network collectors.

1. 200 `http` sources polling every 1 s a local aiohttp server (run in a separate process so
   its CPU is not counted): CPU share of this process, which runs the real scheduler, store
   and collectors, and the lateness of polls against their 1 s grid (p50/p99/max).
2. The `prometheus` collector's parse of a real node_exporter page: cost per 1,000 series,
   against prometheus_client's parser alone on the same text, in the same run.

Run: python bench/bench_collectors.py [--sources 200] [--seconds 30] [--repeat 50] [--only parse|http]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loopback import free_port, wait_until_serving

from collectors.exposition import ExpositionParser
from collectors.http import HttpCollector
from monitor.config import parse_config
from monitor.model import Sample
from monitor.plugin import CollectContext
from monitor.registry import Registry
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore

INTERVAL = 1.0


def serve(port: int) -> None:
    """The target service: a small JSON health answer, like a typical /health endpoint."""
    from aiohttp import web

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "queue": {"depth": 3}})

    app = web.Application()
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


class TimedHttpCollector(HttpCollector):
    """The real http collector, noting when each poll started (the scheduler's tick)."""

    starts: ClassVar[dict[str, list[float]]] = {}

    def collect(self, ctx: CollectContext) -> Iterable[Sample]:
        type(self).starts.setdefault(self.source.name, []).append(ctx.deadline - ctx.timeout)
        return super().collect(ctx)


def lateness(starts: list[float]) -> list[float]:
    """Each poll's delay behind its grid tick; the grid is anchored at the least-late poll."""
    first = starts[0]
    offsets = [start - round((start - first) / INTERVAL) * INTERVAL for start in starts]
    anchor = min(offsets)
    return [offset - anchor for offset in offsets]


def bench_http(sources: int, seconds: float) -> None:
    port = free_port()
    server = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}/health"
        wait_until_serving(url, 10.0)
        lines = [f"interval: {INTERVAL}s", "timeout: 900ms", "sources:"]
        lines += [
            f'  - {{name: s{i}, collector: http, url: "{url}", json: {{depth: $.queue.depth}}}}'
            for i in range(sources)
        ]
        config = parse_config("\n".join(lines), "bench.yaml", registry=Registry.of(TimedHttpCollector))
        store = MetricsStore()
        scheduler = Scheduler(config, store)
        me = psutil.Process()
        scheduler.start()
        time.sleep(5)  # warm-up: threads started, sessions opened, first polls done
        TimedHttpCollector.starts.clear()
        before = store.snapshot()
        cpu_before, wall_before = sum(me.cpu_times()[:2]), time.monotonic()
        time.sleep(seconds)
        cpu = sum(me.cpu_times()[:2]) - cpu_before
        wall = time.monotonic() - wall_before
        scheduler.stop()
    finally:
        server.terminate()
        server.join(5)
    after = store.snapshot().sources
    errors = sum(s.health.errors_total - before.sources[n].health.errors_total for n, s in after.items())
    overruns = sum(s.health.overruns - before.sources[n].health.overruns for n, s in after.items())
    late = sorted(x for starts in TimedHttpCollector.starts.values() for x in lateness(starts))
    polls = len(late)
    p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99)]
    print(f"== {sources} http sources at {INTERVAL:g}s for {wall:.0f}s: {polls} polls ({polls / wall:.0f}/s)")
    print(f"   CPU of the monitor process: {cpu / wall:.1%} of one core (target <= 25%)")
    print(
        f"   poll lateness: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {late[-1] * 1000:.1f} ms "
        "(target p99 <= 50 ms)"
    )
    print(f"   during the measurement: {errors} failed polls, {overruns} skipped ticks")


def node_exporter_page() -> str | None:
    binary = shutil.which("prometheus-node-exporter")
    if binary is None:
        return None
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--no-collector.systemd"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until_serving(url, 10.0)
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.read().decode()
    finally:
        process.terminate()
        process.wait(10)


def paired_times(functions: list, text: str, repeat: int) -> list[list[float]]:
    """Times of each function, run back to back in pairs so both see the same machine load."""
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(repeat):
        for index, function in enumerate(functions):
            started = time.perf_counter()
            function(text)
            times[index].append(time.perf_counter() - started)
    return times


def client_parser_alone(text: str) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def bench_parse(repeat: int) -> None:
    text = node_exporter_page()
    if text is None:
        print("== prometheus parse: skipped, prometheus-node-exporter is not installed")
        return
    parser = ExpositionParser([], [], 10_000)
    series = len(parser.parse(text).samples)
    assert series == client_parser_alone(text)
    baseline, ours = paired_times([client_parser_alone, parser.parse], text, repeat)
    ratio = statistics.median(o / b for o, b in zip(ours, baseline, strict=True))
    per_k = 1000 / series * 1000
    print(f"== prometheus collector parse of a node_exporter page ({series} series, {repeat} pairs)")
    print(f"   prometheus_client parser alone: {min(baseline) * per_k:.2f} ms per 1,000 series (best)")
    print(
        f"   prometheus collector (parse, filter, cap, samples, specs): {min(ours) * per_k:.2f} ms "
        "per 1,000 series (best)"
    )
    print(f"   ratio: {ratio:.2f}x, median of the pairs (target <= 1.2x)")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--sources", type=int, default=200)
    arguments.add_argument("--seconds", type=float, default=30.0)
    arguments.add_argument("--repeat", type=int, default=50, help="pairs timed in the parse part")
    arguments.add_argument(
        "--only",
        choices=["parse", "http"],
        help="run one part: the parse ratio takes seconds, so it can be repeated for its spread",
    )
    options = arguments.parse_args()
    load = ", ".join(f"{x:.2f}" for x in psutil.getloadavg())
    print(f"python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs, load average {load}")
    if options.only != "http":
        bench_parse(options.repeat)
    if options.only != "parse":
        bench_http(options.sources, options.seconds)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in psutil.getloadavg())}")


if __name__ == "__main__":
    main()
