"""Whole headless process with 1,000 sources x 20 series at 1 s: CPU share and RSS.

Runs the real Runtime (pollers, store, exporter when present) in a child process with a
synthetic collector that costs next to nothing, so what is measured is monitor's own
overhead. Baseline in the same run: the same child process with the same Python, imports and
exporter but a single source (the floor a Python process with these libraries costs).

    python bench/bench_headless.py [--sources 1000] [--minutes 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psutil
from synthetic import SyntheticCollector


def child(sources: int) -> None:
    """Run the engine headless until killed; prints 'ready' once every source has published."""
    from monitor.config import parse_config
    from monitor.registry import Registry
    from monitor.runtime import Runtime

    lines = ["exporter: {listen: '127.0.0.1:0'}", "sources:"]
    lines += [f"  - {{name: s{i}, collector: synthetic}}" for i in range(sources)]
    config = parse_config("\n".join(lines), "bench.yaml", registry=Registry.of(SyntheticCollector))
    runtime = Runtime(config, serve_metrics=True, keep_history=False)
    runtime.start()
    while not all(s.health.last_success for s in runtime.store.snapshot().sources.values()):
        time.sleep(0.2)
    print("ready", flush=True)
    time.sleep(10**6)


def measure(sources: int, seconds: float) -> tuple[float, float]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(sources)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        handle = psutil.Process(process.pid)
        warmup = min(30.0, seconds / 5)
        time.sleep(warmup)
        cpu_before, wall_before = sum(handle.cpu_times()[:2]), time.monotonic()
        time.sleep(seconds - warmup)
        cpu = (sum(handle.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
        return cpu * 100, handle.memory_info().rss / 2**20
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    seconds = args.minutes * 60
    idle_cpu, idle_rss = measure(1, min(seconds, 60))
    cpu, rss = measure(args.sources, seconds)
    print(f"baseline (1 source):              {idle_cpu:5.1f}% of a core, {idle_rss:6.1f} MB RSS")
    print(
        f"{args.sources} sources x 20 series at 1 s: {cpu:5.1f}% of a core, {rss:6.1f} MB RSS "
        f"after {args.minutes:g} min"
    )
    print(
        f"=> {cpu / 15:.2f}x the 15% CPU budget, {rss / 150:.2f}x the 150 MB RSS budget; "
        f"{rss - idle_rss:.1f} MB and {cpu - idle_cpu:.1f}% above the baseline"
    )


if __name__ == "__main__":
    main()
