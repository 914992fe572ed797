"""Reload races of the real `monitor --headless`: a config rewritten in place in pieces under
--watch, and a SIGHUP that arrives while the process is still starting."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.faults.harness import MonitorProcess, metric_value, sighup_phase, wait_for
from tests.faults.test_reload import DEADLINE, command_source, value_of, write


def test_watch_waits_for_a_file_written_in_place_in_two_pieces(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    sources = [command_source(f"cmd{i}", i, interval="1s") for i in range(20)]
    write(config, *sources)
    with MonitorProcess(config, "--watch") as monitor:
        wait_for(lambda: value_of(monitor, "cmd19") == 19.0, DEADLINE, "first value")
        time.sleep(0.5)  # let the watcher start watching before the edit (not an assertion)
        new = "sources:\n" + "".join(sources) + command_source("added", 99, interval="1s")
        cut = new.index("  - name: cmd10\n")  # what is on disk between the writes is a valid config
        with open(config, "w") as file:  # `cat >`, `tee`, `rsync --inplace`: truncate, then write
            file.write(new[:cut])
            file.flush()
            time.sleep(0.1)
            file.write(new[cut:])
        wait_for(lambda: value_of(monitor, "added") == 99.0, DEADLINE, "the source added by the edit")
        time.sleep(1.0)  # a second reload, if any, would follow within this
        log = monitor.log()
    reloads = [line for line in log.splitlines() if "reloaded" in line]
    assert len(reloads) == 1, log
    assert "1 added (added), 0 removed" in reloads[0], log
    assert log.count("changed on disk") == 1, log


def test_sighup_while_starting_neither_kills_nor_is_lost(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    monitor = MonitorProcess(config)
    process = monitor.start()
    try:
        # The entry point's handler is there, long before the real one (imports, runtime setup).
        phase = wait_for(lambda: sighup_phase(process.pid), DEADLINE, "monitor catching SIGHUP", period=0.005)
        assert phase == "early", (
            "monitor caught SIGHUP only after its imports, with nothing holding it before"
        )
        process.send_signal(signal.SIGHUP)
        wait_for(monitor._healthy, DEADLINE, "monitor answering /healthz after an early SIGHUP")
        wait_for(
            lambda: "received SIGHUP while starting" in monitor.log() and "reloaded" in monitor.log(),
            DEADLINE,
            "the reload the early SIGHUP asked for",
        )
        time.sleep(0.5)
        assert process.poll() is None, monitor.log()
        assert monitor.log().count("reloaded") == 1, monitor.log()
        assert metric_value(monitor.metrics(), "monitor_config_reload_success") == 1.0
    finally:
        monitor.stop()
