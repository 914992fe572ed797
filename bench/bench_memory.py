"""Where the dashboard's RSS goes: the libraries it is built on, added one layer at a time.

Each layer is measured in a fresh interpreter that imports it and every layer before it (so
a layer's figure is what it adds on top of the others, shared modules counted once), after a
full garbage collection, from outside with psutil; the median of `--repeat` runs. The last
line is the real `monitor` dashboard on the default config in a 160x50 tmux session, the way
bench_dashboard.py measures it: what it adds over the imports is the running app (widgets,
caches, threads, history).

    python bench/bench_memory.py [--repeat 3] [--seconds 10]

The issue's target is at most 60 MB RSS for the dashboard; this shows which part of the stack
that budget goes to, and what dropping one library would save.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
from bench_dashboard import WARMUP, Meter, Session
from loopback import free_port

LAYERS: list[tuple[str, str]] = [
    ("Python interpreter", "import sys"),
    ("asyncio (with ssl, which aiohttp needs too)", "import asyncio"),
    ("Textual and Rich (textual.app)", "import textual.app"),
    ("aiohttp.web (the exporter's server)", "import aiohttp.web"),
    ("prometheus_client", "import prometheus_client"),
    ("PyYAML, psutil, importlib.metadata", "import yaml, psutil, importlib.metadata"),
    ("pydantic", "import pydantic.main"),
    ("monitor's config and plugin API (pydantic models)", "import monitor.config"),
    (
        "monitor's engine, exporter, dashboard; config loaded",
        "import monitor.cli, monitor.runtime, monitor.tui.app; "
        "from monitor.config import load_config; load_config(None)",
    ),
]

CHILD = "{imports}\nimport gc, sys\ngc.collect()\nprint('ready', flush=True)\nsys.stdin.read()\n"


def rss_after(statements: list[str]) -> float:
    """RSS in MB of a fresh interpreter that ran `statements`, measured from outside."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(imports="\n".join(statements))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=tempfile.gettempdir(),  # no config.yaml there: load_config(None) takes the default
        text=True,
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the child importing {statements[-1]!r} failed")
        return psutil.Process(child.pid).memory_info().rss / 2**20
    finally:
        child.kill()
        child.wait()


def dashboard_rss(seconds: float) -> float:
    workdir = tempfile.mkdtemp()
    command = (
        f"sh -c 'cd {workdir} && exec {shlex.quote(sys.executable)} -m monitor "
        f"--listen 127.0.0.1:{free_port()}'"
    )
    session = Session("memory", command)
    try:
        time.sleep(WARMUP)
        meter = Meter(session.process)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            meter.sample()
            time.sleep(1.0)
        return meter.result()[1]
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    print(f"{'layer (RSS in MiB)':48} {'adds':>7} {'total':>7}")
    previous = 0.0
    statements: list[str] = []
    for name, statement in LAYERS:
        statements.append(statement)
        total = statistics.median(rss_after(statements) for _ in range(args.repeat))
        print(f"{name:48} {total - previous:+7.1f} {total:7.1f}")
        previous = total
    imports_only = previous
    running = dashboard_rss(args.seconds)
    print(f"{'the dashboard running (160x50 tmux, mean)':48} {running - imports_only:+7.1f} {running:7.1f}")
    print(f"= {running * 2**20 / 1e6:.1f} MB; target: at most 60 MB RSS for the running dashboard")


if __name__ == "__main__":
    main()
