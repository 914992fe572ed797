"""A ./config.yaml found in the current folder without --config is held to the same trust rule
at every reload as at start: owned by the user (or root) and writable by no one else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.reload import Reloader
from monitor.scheduler import Scheduler
from monitor.store import MetricsStore
from tests.conftest import AS_ROOT
from tests.faults.test_reload import command_source, write


@pytest.mark.parametrize(
    "loosen", ["every user may write it", pytest.param("another user owns it", marks=AS_ROOT)]
)
def test_a_discovered_config_someone_else_can_change_is_not_applied_on_reload(
    tmp_path: Path, monkeypatch, loosen: str
) -> None:
    """Root ran `monitor --headless` in a shared folder; another user replaced config.yaml there
    and `monitor reload` (or --watch) ran the new file's commands as root."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    started = load_config(None)
    store = MetricsStore(history=60)
    scheduler = Scheduler(started, store)
    reloader = Reloader(started, scheduler)
    write(config, command_source("one", 1), command_source("planted", 2))
    if loosen == "every user may write it":
        config.chmod(0o666)
    else:
        os.chown(config, 65534, 65534)
    try:
        status = reloader.reload()
    finally:
        assert scheduler.stop() == []  # a reload that applied would have started pollers
    assert not status.ok
    assert "./config.yaml is" in "\n".join(status.errors)
    assert "planted" not in store.snapshot().sources and reloader.config is started


def test_a_config_named_with_config_is_reloaded_whoever_can_write_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.yaml"
    write(config, command_source("one", 1))
    started = load_config("config.yaml")
    scheduler = Scheduler(started, MetricsStore(history=60))
    reloader = Reloader(started, scheduler)
    write(config, command_source("one", 1), command_source("two", 2))
    config.chmod(0o666)
    try:
        status = reloader.reload()
    finally:
        assert scheduler.stop() == []  # the reload started a poller for `two`
    assert status.ok, status
    assert {source.name for source in reloader.config.sources} == {"one", "two"}
