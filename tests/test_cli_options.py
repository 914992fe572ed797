"""Global options (-c, -v, --log-level, --listen) work before and after the command's name.

They were silently dropped before it: each subcommand's copy of an option defaulted to None/0
and overwrote what the top-level parser had read (`monitor -c bad.yaml check` said OK)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_cli import monitor


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The CLI's own parsing (imported here so that each test fails alone without it)."""
    from monitor.cli import parse_args

    return parse_args(argv)


COMMANDS = ["check", "once", "reload", "collectors", "schema", "rules"]


def place(before: bool, command: str, *options: str) -> list[str]:
    return [*options, command] if before else [command, *options]


POSITIONS = pytest.mark.parametrize("before", [True, False], ids=["before", "after"])


@POSITIONS
@pytest.mark.parametrize("command", COMMANDS)
def test_every_global_option_is_read_in_both_positions(command: str, before: bool) -> None:
    args = parse_args(
        place(before, command, "-c", "h.yaml", "-v", "--log-level", "debug", "--listen", "127.0.0.1:23813")
    )
    assert (args.command, args.config, args.verbose) == (command, "h.yaml", 1)
    assert (args.log_level, args.listen) == ("debug", "127.0.0.1:23813")


@pytest.mark.parametrize("command", COMMANDS)
def test_given_on_both_sides_the_option_after_the_command_wins(command: str) -> None:
    args = parse_args(
        [
            *("-c", "before.yaml", "--log-level", "error", "--listen", "127.0.0.1:1"),
            command,
            *("-c", "after.yaml", "--log-level", "info", "--listen", "127.0.0.1:2"),
        ]
    )
    assert (args.config, args.log_level, args.listen) == ("after.yaml", "info", "127.0.0.1:2")


@pytest.mark.parametrize("command", COMMANDS)
def test_verbose_counts_add_up_across_the_command_name(command: str) -> None:
    """-v is a count: `monitor -v once -v` is -vv, as `-v -v` on one side is."""
    assert parse_args(["-v", command, "-v"]).verbose == 2
    assert parse_args([command]).verbose == 0
    assert (parse_args([command]).config, parse_args([command]).listen) == (None, None)


# What a user sees: each option given on either side changes what check, once and reload do.


@pytest.fixture
def bad_config(write_config) -> Path:
    return write_config("sources:\n  - {name: a, collector: system, intervall: 1s}\n", name="bad.yaml")


@POSITIONS
def test_check_reads_the_config_named_on_either_side(bad_config: Path, before: bool) -> None:
    result = monitor(*place(before, "check", "-c", str(bad_config)))
    assert result.returncode == 2
    assert "unknown key 'intervall'" in result.stderr
    assert "built-in default" not in result.stdout


@POSITIONS
def test_check_reports_the_listen_address_given_on_either_side(write_config, before: bool) -> None:
    path = write_config("sources:\n  - {name: a, collector: system}\n")
    result = monitor(*place(before, "check", "-c", str(path), "--listen", "127.0.0.1:23813"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: OK, 1 source (system), exporter on 127.0.0.1:23813\n"


@POSITIONS
def test_check_logs_at_the_level_given_on_either_side(write_config, before: bool) -> None:
    """check logs nothing of its own at info or debug, so this looks at the level the command
    line configures (in-process), after making sure the real command accepts it."""
    path = write_config("sources:\n  - {name: a, collector: system}\n")
    for options, level in ((("-v",), "INFO"), (("-vv",), "DEBUG"), (("--log-level", "debug"), "DEBUG")):
        argv = place(before, "check", "-c", str(path), *options)
        result = monitor(*argv)
        assert result.returncode == 0, result.stderr
        assert _level_of(*argv) == level


def _level_of(*argv: str) -> str:
    """The root logger's level after the CLI configured logging for this command line."""
    from monitor.cli import configure_logging

    root = logging.getLogger()
    saved, handlers = root.level, list(root.handlers)
    try:
        for handler in handlers:
            root.removeHandler(handler)
        configure_logging(parse_args(list(argv)))
        return logging.getLevelName(root.level)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(saved)


@pytest.fixture
def down_source(write_config) -> Path:
    return write_config("sources:\n  - {name: gone, collector: files, paths: ['/nope/*']}\n")


@POSITIONS
def test_once_collects_the_config_named_on_either_side(down_source: Path, before: bool) -> None:
    result = monitor(*place(before, "once", "-c", str(down_source)))
    assert result.returncode == 1, result.stderr  # the source is down
    assert result.stdout.startswith("== gone (files): down")


@POSITIONS
def test_once_logs_more_with_verbose_on_either_side(down_source: Path, before: bool) -> None:
    result = monitor(*place(before, "once", "-c", str(down_source), "-v"))
    assert "INFO monitor.scheduler: started 1 poller\n" in result.stderr
    assert " DEBUG " not in result.stderr


@POSITIONS
def test_once_logs_at_debug_with_log_level_on_either_side(write_config, before: bool) -> None:
    """fault_raise raises a RuntimeError, whose traceback the scheduler logs at debug only."""
    path = write_config("sources:\n  - {name: boom, collector: fault_raise}\n")
    result = monitor(*place(before, "once", "-c", str(path), "--log-level", "debug"))
    assert "DEBUG monitor.scheduler: source 'boom': collector raised" in result.stderr
    quiet = monitor(*place(before, "once", "-c", str(path), "--log-level", "error"))
    assert "monitor.scheduler" not in quiet.stderr


@POSITIONS
def test_once_accepts_listen_on_either_side(down_source: Path, before: bool) -> None:
    """once serves nothing, but a global option must not break it (an alias may carry one)."""
    result = monitor(*place(before, "once", "-c", str(down_source), "--listen", "127.0.0.1:23813"))
    assert result.returncode == 1, result.stderr  # the source is down, and --listen broke nothing
    assert result.stdout.startswith("== gone (files): down")


@POSITIONS
def test_reload_targets_the_listen_address_given_on_either_side(before: bool) -> None:
    port = free_port()
    result = monitor(*place(before, "reload", "--listen", f"127.0.0.1:{port}"))
    assert result.returncode != 0
    assert f"no running monitor found for 127.0.0.1:{port}" in result.stderr


@POSITIONS
def test_reload_targets_the_address_of_the_config_named_on_either_side(write_config, before: bool) -> None:
    port = free_port()
    path = write_config(f"exporter: {{listen: '127.0.0.1:{port}'}}\nsources: []\n")
    result = monitor(*place(before, "reload", "-c", str(path)))
    assert f"no running monitor found for 127.0.0.1:{port}" in result.stderr


@POSITIONS
def test_reload_accepts_verbose_and_log_level_on_either_side(before: bool) -> None:
    port = free_port()
    result = monitor(*place(before, "reload", "--listen", f"127.0.0.1:{port}", "-v", "--log-level", "info"))
    assert f"no running monitor found for 127.0.0.1:{port}" in result.stderr
    assert _level_of(*place(before, "reload", "-v")) == "INFO"
    assert _level_of(*place(before, "reload", "--log-level", "error")) == "ERROR"
