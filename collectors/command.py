"""`command`: run a program on the interval and read numbers from what it prints.

The argv list is executed directly, never through a shell, so config values cannot inject
commands. The program runs in its own process group, and the whole group is killed when the
poll ends: on timeout or shutdown, and once the program has exited, so what it started in
the background (`daemon &`) does not outlive the poll either. The output is read until every
process holding it has closed it, so a background child that keeps it open holds the poll up
to the timeout. A child that leaves the group (`setsid`) is out of reach. Output is read with
a size cap; stderr keeps only its tail, which is what a failure shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ByteSize, Field, field_validator

from collectors.exposition import ExpositionParser, InvalidExposition, check_metric_name
from collectors.jsonvalues import json_number
from monitor.declarations import readable
from monitor.model import MetricSpec, MetricType, Sample, Unit, unit_of
from monitor.plugin import CollectContext, CollectError, Collector, CollectorOptions
from monitor.validation import METRIC_NAME, room_after_own_series

STDERR_TAIL = 400
OWN_SERIES = 1
"""`command_duration_seconds`, kept within the source's `max_series` as the prometheus collector
keeps its `promscrape_*` series (room_after_own_series): the output is read up to
`max_series - 1` series. Were it read up to the cap, the poller would drop the output's last
series to make room, and that could be the `_count` of a histogram (see ExpositionParser,
which keeps histograms and summaries whole)."""
READ_CHUNK = 65536
STOP_CHECK = 0.25


class CommandOptions(CollectorOptions):
    argv: list[str] = Field(
        min_length=1, description="Program and arguments, run directly (no shell), e.g. [df, -k]."
    )
    format: Literal["auto", "number", "lines", "json"] = Field(
        default="auto",
        description="How stdout is read: 'number' (one value, named by `metric`), 'lines' "
        "('name value' or Prometheus text lines), 'json' (an object of numbers, nested keys "
        "joined with _), or 'auto' (number, else JSON if it starts with '{', else lines).",
    )
    metric: str = Field(default="command_value", description="Metric name for a single-number output.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    cwd: str | None = Field(default=None, description="Working directory (default: monitor's).")
    max_output_size: ByteSize = Field(
        default=ByteSize(1024 * 1024), description="More stdout than this fails the poll (e.g. 64KiB)."
    )

    @field_validator("cwd")
    @classmethod
    def _existing_cwd(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_dir():
            raise ValueError(f"no such directory: {value!r}")
        return value

    @field_validator("metric")
    @classmethod
    def _valid_metric(cls, value: str) -> str:
        return check_metric_name(value, what="the number")


class CommandCollector(Collector[CommandOptions]):
    """What the program prints is the key metrics; the time it ran is not.

    A `command` source exists for the numbers its program prints, so every one of them is
    declared a key metric and its panel lists them (and `thresholds` on them colour
    something visible). `command_duration_seconds` is bookkeeping: as a key metric it would
    take the panel's first row and push printed values past its ten-row cap, while a program
    that fails or hangs already shows as the source being down. It stays on /metrics and the
    detail screen, and `show` can put it on the panel.
    """

    name = "command"
    description = "Runs a program (no shell) and reads a number, 'name value' lines or JSON from stdout."
    Options = CommandOptions
    dynamic_metrics = True
    sample_config = """\
- name: queue
  collector: command
  argv: [/usr/local/bin/queue-depth, --queue, jobs]
  format: number
  metric: jobs_queue_depth
  interval: 10s
  timeout: 3s
"""
    metrics = (
        MetricSpec("command_duration_seconds", "Time the program ran.", Unit.SECONDS),
        MetricSpec(
            "command_value", "The number printed, with format 'number' and the default `metric`.", key=True
        ),
    )

    def setup(self) -> None:
        self.parser = ExpositionParser(
            [],
            [],
            room_after_own_series(self.source.max_series, OWN_SERIES),
            key=True,
            origin="from the command's output",
        )
        self.environ = {**os.environ, **self.options.env}
        # The single number's spec: `command_value` as declared above, or a key metric named
        # by `metric`, so that the panel lists it and its unit follows its name. A number alone
        # says nothing of its type, so it is untyped (a `metric: jobs_total` would otherwise
        # be a gauge named like a counter, which promtool rejects).
        metric = self.options.metric
        self.number_spec = next(
            (spec for spec in self.metrics if spec.name == metric),
            MetricSpec(
                metric,
                f"The number {readable(self.options.argv[0])} printed.",  # a path may not be UTF-8
                unit_of(metric),
                MetricType.UNTYPED,
                key=True,
            ),
        )

    def collect(self, ctx: CollectContext) -> Iterator[Sample]:
        started = time.perf_counter()
        stdout = self._run(ctx)
        yield Sample("command_duration_seconds", time.perf_counter() - started)
        yield from self._parse(stdout.decode("utf-8", errors="replace"), ctx)

    def _run(self, ctx: CollectContext) -> bytes:
        argv = self.options.argv
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.environ,
                cwd=self.options.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise CollectError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        with process:
            try:
                stdout, stderr = self._read(process, ctx)
                _wait_for_exit(process, ctx)
            except subprocess.TimeoutExpired:
                if ctx.stopping:
                    raise CollectError(
                        f"{argv[0]}: monitor is shutting down; killed its process group"
                    ) from None
                if _exited(process):
                    # The output is read until every process holding it has closed it: the
                    # program is done, and what it started in the background (`helper &`)
                    # holds the pipes. "Still running" would send one looking for a hang in
                    # the program.
                    raise CollectError(
                        f"{argv[0]} exited, but a process it left in the background kept its output "
                        f"open past the {ctx.timeout:g}s timeout; redirect its output (>/dev/null 2>&1) "
                        "or don't leave it running; killed its process group"
                    ) from None
                raise CollectError(
                    f"{argv[0]}: still running after the {ctx.timeout:g}s timeout; killed its process group"
                ) from None
            finally:
                # On timeout, shutdown or error the program and its children; after it exited,
                # what it left running in its group (`daemon &`), one more on every poll else.
                _kill_group(process)
        code = process.returncode
        if code != 0:
            tail = stderr.decode("utf-8", errors="replace").strip()
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise CollectError(f"{argv[0]} {how}" + (f": {tail}" if tail else ""))
        return stdout

    def _read(self, process: subprocess.Popen, ctx: CollectContext) -> tuple[bytes, bytes]:
        """Read both pipes until they close, keeping stdout under the cap and stderr's tail."""
        assert process.stdout is not None and process.stderr is not None
        cap = int(self.options.max_output_size)
        stdout, stderr = bytearray(), bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, stdout)
            selector.register(process.stderr, selectors.EVENT_READ, stderr)
            while selector.get_map():
                budget = ctx.remaining()
                if budget <= 0 or ctx.stopping:
                    raise subprocess.TimeoutExpired(process.args, ctx.timeout)
                for key, _ in selector.select(min(budget, STOP_CHECK)):
                    chunk = os.read(key.fd, READ_CHUNK)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer = key.data
                    buffer += chunk
                    if buffer is stderr:
                        del stderr[:-STDERR_TAIL]
                    elif len(stdout) > cap:
                        raise CollectError(
                            f"{process.args[0]} printed more than max_output_size ({cap} bytes)"
                        )
        return bytes(stdout), bytes(stderr)

    def _parse(self, text: str, ctx: CollectContext) -> Iterator[Sample]:
        """The samples the output gives, in its order: a series given twice (a line printed
        twice, JSON keys that join to one name) reaches the poller twice, which keeps the last
        value and reports it, as for every collector."""
        kind = self.options.format
        stripped = text.strip()
        if kind in ("auto", "number"):
            try:
                value = float(stripped)
            except ValueError:
                if kind == "number":
                    raise CollectError(f"expected a single number on stdout, got {stripped[:60]!r}") from None
            else:
                ctx.declare(self.number_spec)
                yield Sample(self.options.metric, value)
                return
        if kind == "json" or (kind == "auto" and stripped.startswith("{")):
            yield from self._json(stripped, ctx)
            return
        try:
            parsed = self.parser.parse(text)
        except InvalidExposition as exc:
            raise CollectError(f"stdout is not 'name value' lines: {exc}") from None
        parsed.report(ctx)
        yield from parsed.samples

    def _json(self, text: str, ctx: CollectContext) -> Iterator[Sample]:
        try:
            document = json.loads(text, object_pairs_hook=_JsonObject)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise CollectError(f"stdout is not JSON ({exc}): {text[:60]!r}") from None
        if not isinstance(document, _JsonObject):
            raise CollectError(f"expected a JSON object on stdout, got {type(document).__name__}")
        for name, value in _flatten(document, ""):
            number = json_number(value)
            if number is None or not METRIC_NAME.fullmatch(name):
                ctx.error(f"{name}: not a usable metric name and number ({str(value)[:30]!r})")
                continue
            help = f"'{name}' from the command's JSON output, no type given"
            ctx.declare(MetricSpec(name, help, unit_of(name), MetricType.UNTYPED, key=True))
            yield Sample(name, number)


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object as the (key, value) pairs it was written with, duplicates included:
    `json.loads` would keep the last of `{"a": 1, "a": 2}` silently, while the poller reports
    a series given twice, as it does `{"a": {"b": 1}, "a_b": 2}` flattened to one name twice."""


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, _JsonObject):
        for key, item in value:
            yield from _flatten(item, f"{prefix}_{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}_{index}")
    elif value is not None:
        yield prefix, value


def _wait_for_exit(process: subprocess.Popen, ctx: CollectContext) -> None:
    """Wait until the program has exited, without reaping it (TimeoutExpired past the poll's
    time, or at shutdown).

    Until it is reaped, the program's pid is its process group's id and cannot be given to
    another process, so `_kill_group` can only reach the program's own group. Where
    `os.waitid` is missing (macOS before Python 3.13), it is reaped here: its pid could then
    be reused before the group is killed, which needs the pids to wrap around in between."""
    delay = 0.0005
    while not _exited(process):
        budget = ctx.remaining()
        if budget <= 0 or ctx.stopping:
            raise subprocess.TimeoutExpired(process.args, ctx.timeout)
        time.sleep(min(delay, budget, STOP_CHECK))
        delay = min(delay * 2, 0.05)


def _exited(process: subprocess.Popen) -> bool:
    if not hasattr(os, "waitid"):
        return process.poll() is not None
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped by someone else: Popen.wait() will say so
        return True


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the whole process group the program leads (it was started in its own session),
    then reap the program."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
