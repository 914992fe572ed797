"""Dashboard cost: CPU share and RSS of the real `monitor` dashboard, side by side with Glances.

1. The default config (this machine's sensors at 1 s) in a 160x50 tmux session, and in the
   same run and the same kind of session `glances -t 1`: the baseline. Both run at once for
   `--seconds`, measured from outside with psutil (CPU time delta, RSS sampled each second).
2. 100 sources x 20 series at 1 s (a synthetic collector through the real pollers) under the
   dashboard in a 160x50 tmux session: CPU share and whether any refresh was dropped (timer
   ticks handled vs ticks due at dashboard.refresh) and the slowest refresh.

    python bench/bench_dashboard.py [--seconds 60] [--glances glances]

Glances is not a dependency: `pip install glances` (into any environment; pass its path
with --glances). Targets: the dashboard at most Glances' CPU and at most 60 MB RSS; with 100
sources at most 20% of a core with no dropped refreshes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import psutil

from monitor.model import MetricSpec, Sample
from monitor.plugin import CollectContext, Collector, CollectorOptions

SIZE = ("160", "50")
WARMUP = 5.0


class SyntheticCollector(Collector[CollectorOptions]):
    name = "synthetic"
    description = "20 changing gauges, nearly free to produce"
    metrics = (MetricSpec("synthetic_value", "a synthetic value", labels=("k",), key=True),)
    labels = tuple({"k": str(k)} for k in range(20))

    def setup(self) -> None:
        self.n = 0

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        self.n += 1
        return [
            Sample("synthetic_value", float((self.n * (k + 1)) % 97), lab)
            for k, lab in enumerate(self.labels)
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child(sources: int, seconds: float, stats_path: str) -> None:
    """The dashboard over `sources` synthetic sources; exits after `seconds`, writing stats."""
    from monitor.config import parse_config
    from monitor.registry import Registry
    from monitor.runtime import Runtime
    from monitor.tui.app import MonitorApp

    lines = [f"exporter: {{listen: '127.0.0.1:{free_port()}'}}", "sources:"]
    lines += [f"  - {{name: s{i}, collector: synthetic}}" for i in range(sources)]
    config = parse_config("\n".join(lines), "bench.yaml", registry=Registry.of(SyntheticCollector))
    runtime = Runtime(config, serve_metrics=True)

    class TimedApp(MonitorApp):
        durations: ClassVar[list[float]] = []
        ticks: ClassVar[list[float]] = []

        def on_mount(self) -> None:  # Textual runs MonitorApp.on_mount as well
            self.started = time.monotonic()
            self.set_timer(seconds, self.exit)

        def tick(self) -> None:
            began = time.perf_counter()
            super().tick()
            self.ticks.append(time.monotonic())
            self.durations.append(time.perf_counter() - began)

    runtime.start()
    app = TimedApp.from_runtime(runtime)
    try:
        app.run()
    finally:
        runtime.stop()
    # Count over the measured window only: the first ticks mount every panel.
    window_start = app.started + WARMUP
    elapsed = time.monotonic() - window_start
    durations = sorted(d for t, d in zip(app.ticks, app.durations, strict=True) if t >= window_start)
    Path(stats_path).write_text(
        json.dumps(
            {
                "refreshes": len(durations),
                "due": int(elapsed / config.dashboard.refresh),
                "slowest": durations[-1] if durations else 0.0,
                "p99": durations[int(len(durations) * 0.99)] if durations else 0.0,
                "refresh": config.dashboard.refresh,
            }
        )
    )


class Session:
    """One command in its own private tmux server, sized like a real terminal."""

    def __init__(self, name: str, command: str) -> None:
        self.socket = f"bench-{name}-{os.getpid()}"
        # COLUMNS/LINES from the calling shell would pin the app's size: drop them.
        run = f"env -u COLUMNS -u LINES {command}"
        subprocess.run(
            ["tmux", "-L", self.socket, "new-session", "-d", "-s", "main", "-x", SIZE[0], "-y", SIZE[1], run],
            check=True,
        )
        pane = subprocess.run(
            ["tmux", "-L", self.socket, "display", "-p", "-t", "main", "#{pane_pid}"],
            check=True,
            capture_output=True,
            text=True,
        )
        self.process = psutil.Process(int(pane.stdout))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


class Meter:
    """CPU time delta and RSS samples of one process (and its children) from outside."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.rss: list[int] = []
        self.cpu_start = self._cpu()
        self.start = time.monotonic()

    def _tree(self) -> list[psutil.Process]:
        return [self.process, *self.process.children(recursive=True)]

    def _cpu(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self._tree())

    def sample(self) -> None:
        self.rss.append(sum(p.memory_info().rss for p in self._tree()))

    def result(self) -> tuple[float, float, float]:
        """(CPU share of one core, mean RSS MB, max RSS MB)."""
        share = (self._cpu() - self.cpu_start) / (time.monotonic() - self.start)
        return share, sum(self.rss) / len(self.rss) / 2**20, max(self.rss) / 2**20


def measure(sessions: dict[str, Session], seconds: float) -> dict[str, tuple[float, float, float]]:
    time.sleep(WARMUP)
    meters = {name: Meter(session.process) for name, session in sessions.items()}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for meter in meters.values():
            meter.sample()
        time.sleep(1.0)
    return {name: meter.result() for name, meter in meters.items()}


def side_by_side(seconds: float, glances: str) -> None:
    workdir = tempfile.mkdtemp()  # no config.yaml there: the built-in default config
    monitor = f"sh -c 'cd {workdir} && exec {shlex.quote(sys.executable)} -m monitor --listen 127.0.0.1:{free_port()}'"
    sessions = {"monitor": Session("monitor", monitor), "glances": Session("glances", f"{glances} -t 1")}
    try:
        results = measure(sessions, seconds)
    finally:
        for session in sessions.values():
            session.close()
    print(f"1. default config, 1 s interval, 160x50 tmux, {seconds:.0f} s, both at once")
    for name, (share, mean_rss, max_rss) in results.items():
        print(
            f"   {name:8} CPU {share * 100:5.1f} % of a core   RSS mean {mean_rss:5.1f} MB  max {max_rss:5.1f} MB"
        )
    ours, theirs = results["monitor"], results["glances"]
    print(
        f"   => monitor uses {ours[0] / theirs[0]:.2f}x Glances' CPU (target <= 1.0) "
        f"and {ours[2]:.0f} MB RSS, {ours[2] / theirs[2]:.2f}x Glances' (target <= 60 MB)"
    )


def many_sources(seconds: float, sources: int) -> None:
    stats = Path(tempfile.mkdtemp()) / "stats.json"
    command = (
        f"{shlex.quote(sys.executable)} {shlex.quote(__file__)} --child {sources} "
        f"--child-seconds {seconds + WARMUP + 2} --stats {stats}"
    )
    session = Session("many", command)
    try:
        share, _, max_rss = measure({"many": session}, seconds)["many"]
        deadline = time.monotonic() + 30
        while not stats.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        session.close()
    result = json.loads(stats.read_text())
    dropped = max(0, result["due"] - result["refreshes"])
    print(
        f"2. {sources} sources x 20 series at 1 s, refresh every {result['refresh']} s, 160x50 tmux, {seconds:.0f} s"
    )
    print(
        f"   dashboard process CPU {share * 100:5.1f} % of a core (pollers included)   RSS max {max_rss:5.1f} MB"
    )
    print(
        f"   refreshes {result['refreshes']} of {result['due']} due ({dropped} dropped); "
        f"slowest {result['slowest'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms"
    )
    print(
        f"   => target <= 20 % of a core with no dropped refreshes: {'met' if share <= 0.2 and not dropped else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--glances", default=shutil.which("glances") or "glances")
    parser.add_argument("--only-many", action="store_true", help="skip the side-by-side run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.child_seconds, args.stats)
        return
    if not args.only_many:
        side_by_side(args.seconds, args.glances)
    many_sources(args.seconds, args.sources)


if __name__ == "__main__":
    main()
