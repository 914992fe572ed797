"""Soak: the real `monitor --headless` for a long time under churn, watched from outside.

Churn: sources scrape a server whose label values rotate on every request, some sources fail
for 20 s of every minute and recover, a `command` source spawns a process every second, and
the config is rewritten and reloaded (SIGHUP) every `--reload-every` seconds, swapping three
sources for three others and changing two intervals (so the source count, and the thread
count, stay the same). A scraper reads /metrics every 0.5 s like Prometheus.

Measured after the warm-up: RSS growth (the last minute's peak against the first minute's
peak after warm-up: the baseline measured in the same run), thread and file-descriptor
ranges, failed scrapes and failed reloads.

    python bench/bench_soak.py [--minutes 30] [--warmup-minutes 3] [--reload-every 60]
"""

from __future__ import annotations

import argparse
import itertools
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
from loopback import free_port, wait_until_serving

SERIES_PER_SCRAPE = 50
LABEL_SPACE = 2000
FLAP_PERIOD = 60
FLAP_DOWN = 20


class ChurnHandler(BaseHTTPRequestHandler):
    """/churn: 50 series whose label values rotate through 2,000; /flappy: down 20 s a minute."""

    counter = itertools.count()

    def do_GET(self) -> None:
        if self.path.startswith("/flappy") and time.time() % FLAP_PERIOD < FLAP_DOWN:
            self._send(503, b"down for the soak\n")
            return
        start = next(self.counter) * 7
        lines = ["# TYPE churn_value gauge"]
        lines += [
            f'churn_value{{id="{(start + i) % LABEL_SPACE}"}} {start + i}' for i in range(SERIES_PER_SCRAPE)
        ]
        self._send(200, ("\n".join(lines) + "\n").encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def config_text(server: str, variant: int) -> str:
    """Two variants with the same number of sources: three swapped, two intervals changed."""
    sources = [
        f'  - {{name: churn{i}, collector: prometheus, url: "{server}/churn", interval: 1s}}'
        for i in range(12)
    ]
    sources += [
        f'  - {{name: flappy{i}, collector: prometheus, url: "{server}/flappy", interval: 1s}}'
        for i in range(4)
    ]
    sources.append("  - {name: spawner, collector: command, argv: [echo, '1'], interval: 1s}")
    swapped = ("a", "b")[variant % 2]
    sources += [
        f'  - {{name: swap_{swapped}{i}, collector: prometheus, url: "{server}/churn", interval: 1s}}'
        for i in range(3)
    ]
    interval = ("1s", "2s")[variant % 2]
    sources += [
        f'  - {{name: retimed{i}, collector: prometheus, url: "{server}/churn", interval: {interval}}}'
        for i in range(2)
    ]
    return "max_backoff: 4s\nsources:\n" + "\n".join(sources) + "\n"


@dataclass
class SoakResult:
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    """(seconds since start, RSS bytes, threads, open fds)"""
    scrapes: int = 0
    failed_scrapes: int = 0
    reloads: int = 0
    scrapes_after_failed_reload: int = 0
    warmup: float = 0.0

    def after_warmup(self) -> list[tuple[float, int, int, int]]:
        return [s for s in self.samples if s[0] >= self.warmup]

    def growth(self, column: int = 1, window: float = 60.0) -> tuple[int, int, float]:
        """(baseline, final, ratio) of one sampled column (1 RSS, 2 threads, 3 fds): its peak in
        the first and in the last `window` seconds after warm-up (peaks, because a sample taken
        mid-scrape or while a command runs jitters)."""
        steady = self.after_warmup()
        end = steady[-1][0]
        first = [sample[column] for sample in steady if sample[0] < self.warmup + window]
        last = [sample[column] for sample in steady if sample[0] >= end - window]
        baseline, final = max(first), max(last)
        return baseline, final, final / baseline

    def steady_levels(self, column: int, window: float) -> tuple[int, int]:
        """The median of a column in the first and in the last `window` seconds after warm-up:
        the level the process sits at. Transients move a minimum or a maximum but not the
        median: a reload stops changed pollers (their event loops' fds) a moment before it
        starts their replacements, and a command's pipes are open while it runs."""
        steady = self.after_warmup()
        end = steady[-1][0]
        first = [sample[column] for sample in steady if sample[0] < self.warmup + window]
        last = [sample[column] for sample in steady if sample[0] >= end - window]
        return statistics.median_low(first), statistics.median_low(last)

    def spread(self, column: int) -> tuple[int, int]:
        values = [sample[column] for sample in self.after_warmup()]
        return min(values), max(values)


def run_soak(
    seconds: float, warmup: float, reload_every: float, workdir: Path, sample_every: float = 5.0
) -> SoakResult:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChurnHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server_url = f"http://127.0.0.1:{server.server_address[1]}"
    config = workdir / "soak.yaml"
    config.write_text(config_text(server_url, 0))
    port = free_port()
    log = open(workdir / "soak.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--headless", "-c", str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=log,
    )
    result = SoakResult(warmup=warmup)
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until_serving(metrics_url)
        watched = psutil.Process(process.pid)
        started = time.monotonic()
        next_sample = next_reload = 0.0
        variant = 0
        while (now := time.monotonic() - started) < seconds:
            if now >= next_sample:
                result.samples.append(
                    (now, watched.memory_info().rss, watched.num_threads(), watched.num_fds())
                )
                next_sample += sample_every
            if now >= next_reload + reload_every:
                next_reload += reload_every
                variant += 1
                config.write_text(config_text(server_url, variant))
                result.reloads += 1
                process.send_signal(signal.SIGHUP)
            result.scrapes += 1
            try:
                with urllib.request.urlopen(metrics_url, timeout=5) as response:
                    body = response.read()
                if b"monitor_config_reload_success 0.0" in body:
                    result.scrapes_after_failed_reload += 1
            except OSError:
                result.failed_scrapes += 1
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        server.shutdown()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=3.0)
    parser.add_argument("--reload-every", type=float, default=60.0, help="seconds between reloads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = run_soak(args.minutes * 60, args.warmup_minutes * 60, args.reload_every, Path(workdir))
    baseline, final, ratio = result.growth(1)
    print(
        f"soak: {args.minutes:g} min, warm-up {args.warmup_minutes:g} min, reload every {args.reload_every:g} s"
    )
    print(
        f"  RSS: baseline {baseline / 2**20:.1f} MiB -> final {final / 2**20:.1f} MiB ({(ratio - 1) * 100:+.1f}%)"
    )
    for column, what in ((2, "threads"), (3, "open fds")):
        low, high = result.spread(column)
        first, last, _ = result.growth(column)
        print(f"  {what} after warm-up: {low}..{high}; peak in the first minute {first}, in the last {last}")
    print(f"  scrapes: {result.scrapes}, failed: {result.failed_scrapes}")
    print(
        f"  reloads: {result.reloads}, scrapes showing a failed reload: {result.scrapes_after_failed_reload}"
    )


if __name__ == "__main__":
    main()
