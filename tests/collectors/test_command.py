"""The command collector with real programs: output formats, failures, timeouts that kill
the whole process group, and arguments that are never interpreted by a shell."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from collectors.command import CommandCollector
from monitor.config import parse_config
from monitor.once import collect_once
from monitor.plugin import CollectError
from monitor.testing import running
from tests.collectors.conftest import run_collector
from tests.conftest import free_port
from tests.exporter.exporter_support import headless

PY = sys.executable


def python(code: str, **options) -> dict:
    return {"argv": [PY, "-c", code], **options}


def test_single_number_named_by_metric():
    samples, _ = run_collector(CommandCollector, python("print(' 42.5 ')", metric="queue_depth"))
    assert samples[("queue_depth", ())] == 42.5
    assert samples[("command_duration_seconds", ())] > 0


def test_a_program_path_that_is_not_utf8_is_written_out_in_the_help(tmp_path):
    """argv[0] may rightly be a path that is not UTF-8 (os.fsdecode: surrogate escapes); the
    number's HELP names it, and /metrics is UTF-8: written out as \\xe9, not a partial error
    at every poll."""
    program = tmp_path / "caf\udce9"
    program.write_text(f"#!{PY}\nprint(3)\n")
    program.chmod(0o755)
    with running(CommandCollector, argv=[str(program)], metric="jobs") as source:
        result = source.collect()
        help_text = source.collector.number_spec.help
    assert result.value("jobs") == 3.0
    assert result.errors == []
    assert help_text == f"The number {tmp_path}/caf\\xe9 printed."


def test_name_value_lines_and_prometheus_text():
    code = 'print(\'jobs_waiting 3\\njobs_running{pool="a"} 2\\n# comment\\nsource_temp{source="x"} 1\')'
    samples, ctx = run_collector(CommandCollector, python(code))
    assert samples[("jobs_waiting", ())] == 3
    assert samples[("jobs_running", (("pool", "a"),))] == 2
    assert samples[("source_temp", (("exported_source", "x"),))] == 1
    assert "jobs_waiting" in ctx.declared


def test_lines_past_max_series_are_counted_as_dropped():
    """The parser stops at the cap; the lines it did not read were a partial error ('lines not
    read') but counted nowhere, so monitor_source_series_dropped said 0."""
    code = "print('\\n'.join(f'jobs_{i} {i}' for i in range(10)))"
    argv = json.dumps([PY, "-c", code])
    config = parse_config(f"sources:\n  - {{name: c, collector: command, argv: {argv}, max_series: 4}}\n")
    health = collect_once(config).sources["c"].health
    # 11 series: command_duration_seconds and 3 of the 10 lines read, the other 7 counted
    assert (health.up, health.series_count, health.series_dropped) == (True, 4, 7)
    assert health.partial_errors == (
        "7 series over max_series (4) dropped; raise max_series or narrow what the source collects",
    )


def test_json_object_flattened():
    code = "import json; print(json.dumps({'queue': {'depth': 4, 'ok': True}, 'lags': [1, 2], 'note': 'x'}))"
    samples, ctx = run_collector(CommandCollector, python(code))
    assert samples[("queue_depth", ())] == 4
    assert samples[("queue_ok", ())] == 1
    assert samples[("lags_1", ())] == 2
    assert ctx.errors == ["note: not a usable metric name and number ('x')"]


@pytest.mark.parametrize(
    ("output", "kept", "errors"),
    [
        (
            '{"a": {"b_c": 1}, "a_b": {"c": 2}}',
            {("a_b_c", ()): 2},
            ["a_b_c: 2 values in one collection; the last one is kept"],
        ),
        (
            '{"a": 1, "a": 2.5, "b": [7, 8], "b_1": 9}',  # json.loads alone kept a 2.5 silently
            {("a", ()): 2.5, ("b_0", ()): 7, ("b_1", ()): 9},
            [
                "a: 2 values in one collection; the last one is kept",
                "b_1: 2 values in one collection; the last one is kept",
            ],
        ),
        (
            "a_total 5\na_total 6\nok 1\n",
            {("a_total", ()): 6, ("ok", ()): 1},
            ["a_total: 2 values in one collection; the last one is kept"],
        ),
    ],
    ids=["json-flattened", "json-repeated-key", "lines"],
)
def test_values_for_one_series_keep_the_last_and_say_so(output: str, kept: dict, errors: list[str]):
    """The store keeps one value per series: JSON keys that flatten to one name, a key written
    twice and a line printed twice lost all values but the last without a word. The poller
    reports them, as for every collector (a collection as `monitor once` runs it)."""
    argv = json.dumps([PY, "-c", "import sys; sys.stdout.write(sys.argv[1])", output])
    config = parse_config(f"sources:\n  - {{name: c, collector: command, argv: {argv}}}\n")
    source = collect_once(config).sources["c"]
    assert {
        key: value for key, value in source.series.items() if key[0] != "command_duration_seconds"
    } == kept
    assert list(source.health.partial_errors) == errors


def test_wrong_output_for_the_format():
    with pytest.raises(CollectError, match=r"expected a single number on stdout, got 'hello'"):
        run_collector(CommandCollector, python("print('hello')", format="number"))
    with pytest.raises(CollectError, match="stdout is not JSON"):
        run_collector(CommandCollector, python("print('{nope')", format="json"))
    with pytest.raises(CollectError, match="stdout is not 'name value' lines"):
        run_collector(CommandCollector, python("print('what is this')"))
    with pytest.raises(CollectError, match=r"printed more than max_output_size \(1024 bytes\)"):
        run_collector(CommandCollector, python("print('1' * 100000)", max_output_size="1KiB"))


def test_non_zero_exit_carries_the_tail_of_stderr():
    code = "import sys; sys.stderr.write('noise\\n' * 1000 + 'disk /data not mounted'); sys.exit(3)"
    with pytest.raises(CollectError) as caught:
        run_collector(CommandCollector, python(code))
    message = str(caught.value)
    assert message.startswith(f"{PY} exited with status 3: ")
    assert message.endswith("disk /data not mounted")
    assert len(message) < 600
    with pytest.raises(CollectError, match="cannot run '/nonexistent/tool'"):
        run_collector(CommandCollector, {"argv": ["/nonexistent/tool"]})


def test_timeout_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(CollectError, match=r"still running after the 1s timeout; killed its process group"):
        run_collector(CommandCollector, python(code), timeout=1.0)
    assert time.monotonic() - started < 5
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the grandchild survived the timeout"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_arguments_are_not_interpreted_by_a_shell(tmp_path):
    marker = tmp_path / "injected"
    argument = f"; touch {marker}"
    options = {"argv": [PY, "-c", "import sys; print(len(sys.argv[1]))", argument], "format": "number"}
    samples, _ = run_collector(CommandCollector, options)
    assert samples[("command_value", ())] == len(argument)
    assert not marker.exists()


def _sleeps(marker: str) -> list[psutil.Process]:
    """Live (not zombie) `sleep MARKER` processes, wherever they are in the process tree."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["cmdline"] == ["sleep", marker] and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def _gone_within(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    return not _alive(pid)


@pytest.fixture
def sleep_marker() -> Iterator[str]:
    """A `sleep` argument no other test uses; whatever still sleeps on it is killed afterwards,
    so a failing test leaves nothing behind either."""
    marker = f"{2800 + os.getpid() % 100}.{time.monotonic_ns() % 1_000_000}"
    yield marker
    for process in _sleeps(marker):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


@pytest.mark.parametrize("exit_status", [0, 3])
def test_what_the_program_left_running_is_killed_when_it_exits(sleep_marker, exit_status):
    """`daemon &` in a script: the background child has let go of the output, so the poll
    ends when the script exits, and the child, still in the script's process group, is killed
    then, whether the script succeeded or failed. Before, each poll left one more behind."""
    script = f"sleep {sleep_marker} >/dev/null 2>&1 & echo $!; echo $! >&2; exit {exit_status}"
    options = {"argv": ["/bin/sh", "-c", script], "format": "number"}
    if exit_status == 0:
        samples, _ = run_collector(CommandCollector, options)
        child = int(samples[("command_value", ())])
    else:
        with pytest.raises(CollectError, match=r"exited with status 3: \d+$") as caught:
            run_collector(CommandCollector, options)
        child = int(str(caught.value).rsplit(" ", 1)[1])
    assert _gone_within(child), "the background child outlived the poll"


def test_monitor_headless_leaves_no_background_children(sleep_marker, tmp_path):
    """The review's reproduction, with the real `monitor --headless`: a command source whose
    script starts `sleep ... &` every second. Before, every poll's sleep was still alive when
    monitor exited (7 after 8 s); now none is alive while it runs, between polls, or after."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n"
        "  - name: leaky\n"
        "    collector: command\n"
        f"    argv: [/bin/sh, -c, 'sleep {sleep_marker} >/dev/null 2>&1 & echo 1']\n"
        "    interval: 250ms\n"
    )
    seen_alive = 0
    with headless(config, free_port()):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            seen_alive = max(seen_alive, len(_sleeps(sleep_marker)))
            time.sleep(0.1)
    # A poll's sleep lives only between the script's start and its exit, a few ms.
    assert seen_alive <= 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _sleeps(sleep_marker):
        time.sleep(0.05)
    assert _sleeps(sleep_marker) == [], "background children outlived monitor"


def test_a_background_child_holding_the_output_is_named_when_the_program_has_exited(sleep_marker):
    """`sh -c 'sleep ... & echo 1'`: sh exits at once, but the sleep keeps stdout open, so the
    poll waits for it to the timeout. Before, the error said "/bin/sh: still running" of a
    program that had exited; the child is killed either way."""
    script = f"sleep {sleep_marker} & echo 1"
    started = time.monotonic()
    with pytest.raises(CollectError) as caught:
        run_collector(CommandCollector, {"argv": ["/bin/sh", "-c", script]}, timeout=1.0)
    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        "/bin/sh exited, but a process it left in the background kept its output open past the 1s "
        "timeout; redirect its output (>/dev/null 2>&1) or don't leave it running; killed its process group"
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _sleeps(sleep_marker):
        time.sleep(0.05)
    assert _sleeps(sleep_marker) == [], "the background child outlived the poll"
