"""The `monitor` command: the dashboard by default, plus check, once and collectors."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from monitor import __version__
from monitor.catalog import catalog
from monitor.config import DEFAULT_LISTEN, Config, ConfigError, load_config, parse_listen, unknown_name
from monitor.launch import EARLY_HANGUP
from monitor.lognews import shown_elsewhere
from monitor.printable import PrintableFormatter
from monitor.registry import Registry
from monitor.wording import plural

log = logging.getLogger("monitor")

EXIT_CHECK_WARNINGS = 1
"""`monitor check`: the config is valid but some source would never collect (its collector
plugin is installed and fails to import), two collectors it uses declare one metric name
differently, or a third-party package registers the name of a built-in collector it uses. Not 0, or a deploy script that gates on `check` ships a source that is down
forever; not 2, which says the config itself is wrong and would stop `monitor` from starting,
while it starts and works (a failed plugin's sources report its error). `monitor schema` exits
so too when it leaves a plugin out."""
EXIT_CONFIG_ERROR = 2
EXIT_CANNOT_SERVE = 3
EXIT_SOURCE_DOWN = 1
"""`monitor once` when a source did not collect: scripts and cron can use it as a probe."""
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


CONFIG_HELP = "config file (default: ./config.yaml if present, else the built-in default dashboard)"
IGNORED_CONFIG_HELP = "ignored: this command reads no config (accepted so that global options go anywhere)"
RELOAD_CONFIG_HELP = (
    "config file whose exporter.listen names the running instance to signal (default: ./config.yaml); "
    "the instance re-reads the file it was started with"
)


def _add_global_options(
    parser: argparse.ArgumentParser, *, after_command: bool, config_help: str = CONFIG_HELP
) -> None:
    """Add the options every command takes, both before and after the command's name.

    A copy on a subcommand's parser defaults to SUPPRESS: argparse copies every attribute the
    subparser sets onto the top-level namespace, so a plain default (None, 0) would overwrite
    what was given before the command (`monitor -c h.yaml once` ran the default config).
    Suppressed, only an option actually typed after the command lands there, and it wins.
    `-v` counts go to their own dest and are added up (`monitor -v once -v` is `-vv`).
    """
    keep = argparse.SUPPRESS if after_command else None
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=keep,
        help=config_help,
    )
    parser.add_argument(
        "-v",
        "--verbose",
        dest="verbose_after_command" if after_command else "verbose",
        action="count",
        default=0,
        help="more log output: -v info, -vv debug",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=keep,
        help="log level (default: warning, info with --headless; overrides -v)",
    )


def _add_listen_option(parser: argparse.ArgumentParser, *, after_command: bool, help: str) -> None:
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=_listen_address,
        default=argparse.SUPPRESS if after_command else None,
        help=help,
    )


def _listen_address(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


EXPORTER_LISTEN_HELP = f"exporter address (default: the config's exporter.listen, else {DEFAULT_LISTEN})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Realtime monitoring dashboard for the terminal, and a Prometheus exporter.",
        epilog="Without a command, monitor opens the dashboard. -c, -v, --log-level and --listen go "
        "before or after the command. See README.md for the config format.",
    )
    _add_global_options(parser, after_command=False)
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument(
        "--headless", action="store_true", help="run without the dashboard: pollers and exporter only"
    )
    _add_listen_option(parser, after_command=False, help=EXPORTER_LISTEN_HELP)
    parser.add_argument(
        "--watch",
        action="store_true",
        help="reload the config whenever its file changes (see docs/RELOAD.md)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="validate the config; exit 2 on errors, 1 on warnings",
        description="Validate the config and print a one-line summary. Exit status: 0 when it is valid; "
        "1 when it is valid with warnings (a collector plugin the config names is installed but fails "
        "to import, so its sources would report that error instead of collecting; two collectors it "
        "uses declare one metric name differently; or a third-party package registers the name of a "
        "built-in collector it uses); 2 when it has errors, each printed with file:line:col.",
    )
    schema = commands.add_parser(
        "schema",
        help="print a JSON Schema of config.yaml (with every installed collector); exit 1 if one is left out",
        description="Print a JSON Schema of config.yaml covering the options of every installed collector, "
        "for editors' completion and checking: monitor schema > monitor.schema.json, then "
        "'# yaml-language-server: $schema=monitor.schema.json' atop config.yaml. A collector plugin that "
        "fails to import, or whose options have no JSON Schema, is left out and named on stderr, and the "
        "exit status is then 1 (the schema is still written).",
    )
    once = commands.add_parser(
        "once",
        help="collect every source once and print the result; exit 1 if a source is down",
        description="Collect every source once and print what came back, errors included. "
        "Exit status: 0 when every source collected, 1 when one did not, 2 for a config error.",
    )
    once.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="table (default): one line per series, under a line per source; json: the document "
        "GET /api/v1/snapshot serves",
    )
    listing = commands.add_parser(
        "collectors",
        help="list collector plugins, options and samples; exit 1 if one fails to import",
        description="List every installed collector plugin, or only NAME, with its options, its metrics "
        "(* marks the key metrics a dashboard panel shows unless `show` chooses) and a sample config. "
        "Exit status 1 for an unknown NAME, or when a plugin to list fails to import (it is named with "
        "its error on stderr, the others are listed).",
    )
    listing.add_argument("name", nargs="?", help="show only this collector")
    rules = commands.add_parser(
        "rules",
        help="write the config's alerts as a Prometheus alerting-rules file",
        description="Write the config's alerts as a Prometheus alerting-rules file, in the names and "
        "labels /metrics exposes, so a Prometheus scraping monitor fires the same alerts (see "
        "docs/ALERTS.md). Exit status: 0 when written, 1 when FILE cannot be written, 2 for a config error.",
    )
    rules.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    rules.add_argument(
        "--match",
        action="append",
        default=[],
        metavar='LABEL="VALUE"',
        help='add this label matcher to every rule, e.g. --match instance="web1:9813", or host="web1" for '
        "a static label every source with alerts sets (repeatable): a Prometheus scraping several "
        "instances then applies this config's rules to this instance only",
    )
    reload = commands.add_parser(
        "reload",
        help="make the running monitor re-read its config (SIGHUP); exit 2 if the new config is invalid",
        description="Send SIGHUP to the running monitor, found by its exporter address, and print the "
        "outcome of its reload. It re-reads the config file it was started with: -c and --listen only "
        "say which instance you mean. Exit status: 0 when it reloaded, 1 when no running monitor was "
        "found, 2 when the new config is invalid (the running one carries on) or no outcome is reported in time.",
    )
    for command in (check, once, rules):
        _add_global_options(command, after_command=True)
    for command in (schema, listing):
        _add_global_options(command, after_command=True, config_help=IGNORED_CONFIG_HELP)
    _add_global_options(reload, after_command=True, config_help=RELOAD_CONFIG_HELP)
    _add_listen_option(
        check, after_command=True, help=f"{EXPORTER_LISTEN_HELP}; the summary names the address"
    )
    for command in (schema, once, listing, rules):
        _add_listen_option(
            command,
            after_command=True,
            help="ignored: this command serves nothing (accepted so that global options go anywhere)",
        )
    _add_listen_option(
        reload,
        after_command=True,
        help="exporter address of the instance to reload (default: the config's exporter.listen)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line and merge the options given after the command into the others."""
    args = build_parser().parse_args(argv)
    args.verbose += vars(args).pop("verbose_after_command", 0)
    return args


def configure_logging(args: argparse.Namespace) -> None:
    quiet = "info" if getattr(args, "headless", False) else "warning"  # a service says what it serves
    level = args.log_level or {0: quiet, 1: "info"}.get(args.verbose, "debug")
    # Printable: a line quotes what servers and commands said (`source 'api' is down: ...`).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    """Run the command; end quietly when the reader of stdout goes away or the user interrupts.

    A write to a closed pipe (`monitor schema | head -1`, once the schema outgrows the pipe's
    buffer) ends the command with status 141, 128 + SIGPIPE: the status the shell gives `cat` or
    `grep` when SIGPIPE kills them, so a `set -o pipefail` script treats monitor exactly like
    them, and output cut while being written never passes for complete. (Output that fits the
    buffer is all written before the reader leaves, and the status is 0, as for `cat`.) Python
    ignores SIGPIPE and raises BrokenPipeError instead; restoring SIGPIPE's default action would
    also kill the exporter on any client's broken connection, so the error is caught here.
    Stdout is pointed at /dev/null first, or the interpreter's final flush fails once more.
    """
    try:
        status = _main(argv)
        sys.stdout.flush()  # short output is still buffered: its broken pipe shows up here
        return status
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"monitor: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if args.command is not None:
        EARLY_HANGUP.release()  # no monitor runs: SIGHUP ends the command, as it always did
    configure_logging(args)
    if args.command == "collectors":
        return _collectors(args.name)
    if args.command == "schema":
        return _schema()
    if args.command == "reload":
        from monitor.runfiles import request_reload

        return request_reload(args.config, args.listen)
    try:
        config = load_config(args.config, for_rules=args.command == "rules")  # rules need no secret
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print(
            f"monitor: {plural(len(exc.problems), 'problem')} in the config; nothing started", file=sys.stderr
        )
        return EXIT_CONFIG_ERROR
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.command == "check":
        if args.listen:  # report the address `monitor --listen ...` would serve, not the file's
            exporter = config.exporter.model_copy(update={"listen": args.listen})
            config = dataclasses.replace(config, exporter=exporter)
        from monitor.catalog import config_plugin_warnings

        plugin_warnings = config_plugin_warnings(config)
        for warning in plugin_warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return _check_summary(config, len(config.warnings) + len(plugin_warnings))
    if args.command == "once":
        return _once(config, args.format, quiet=not args.verbose and args.log_level is None)
    if args.command == "rules":
        return _rules(config, args.output, args.match)
    return _run(config, args)


def _check_summary(config: Config, warnings: int) -> int:
    """Print the summary; `warnings` (already on stderr, each once) turn "OK" into "OK with N
    warnings" and the status into 1, so neither a reader nor a script takes a source that will
    never collect, or two collectors describing each other's metrics, for a clean config."""
    summary = config.summary()
    if not warnings:
        print(summary)
        return 0
    ok = f"{config.path}: OK"
    if summary.startswith(ok):
        summary = f"{ok} with {plural(warnings, 'warning')}{summary[len(ok) :]}"
    print(summary)
    return EXIT_CHECK_WARNINGS


def _schema() -> int:
    """Print the schema; name on stderr each plugin left out of it because it fails to import
    or its options have no JSON Schema, or it would be missing without a word, and exit 1 then,
    as `monitor check`, `collectors` and `rules` do for a plugin that fails to import: the
    schema is written, but a script saving it must not take it for complete."""
    from monitor.schema import render_schema

    text, warnings = render_schema(Registry.discover())
    print(text)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_CHECK_WARNINGS if warnings else 0


def _collectors(name: str | None) -> int:
    """List the plugins that load; name each one that fails to import on stderr and exit 1, as
    `monitor check` does for a config naming it, so a script cannot take it for installed."""
    registry = Registry.discover()
    if name and name not in registry.entry_points:
        print(f"monitor: {unknown_name('collector', name, registry.names())}", file=sys.stderr)
        return 1
    listing = catalog(registry, name)
    if listing:
        print(listing, flush=True)  # before the errors, in a terminal showing both
    failures = registry.failures()
    for error in failures.values():
        print(f"monitor: {error}", file=sys.stderr)
    return 1 if failures else 0


class Interrupted(Exception):
    """SIGINT or SIGTERM, raised in the main thread so that `finally` blocks run (the scheduler's
    stop, which kills a command collector's process group) instead of the process just ending."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into Interrupted, and ignore the ones after it: a second
    Ctrl+C must not cut the cleanup short and leave children behind. A signal that was ignored
    when monitor started (a script's background job ignores SIGINT) stays ignored."""
    received: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        if not received:
            received.append(signum)
            raise Interrupted(signum)

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _NoSourceDownWarnings(logging.Filter):
    """Drops the scheduler's per-source "is down" (and "collection hung") warnings: `monitor once`
    prints each source's error in its own output already, so stderr would say it twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not shown_elsewhere(record)


def _once(config: Config, output_format: str, *, quiet: bool) -> int:
    """Collect once and print. `quiet` (no -v, no --log-level) leaves out the down warnings that
    repeat what the output shows; the dashboard and --headless log them as before."""
    from monitor.once import collect_once, render_json, render_table

    scheduler_log = logging.getLogger("monitor.scheduler")
    down_filter = _NoSourceDownWarnings()
    if quiet:
        scheduler_log.addFilter(down_filter)
    try:
        with _interruptible():
            snapshot = collect_once(config)
            print(render_json(snapshot) if output_format == "json" else render_table(snapshot))
    finally:
        scheduler_log.removeFilter(down_filter)
    return EXIT_SOURCE_DOWN if any(not s.health.up for s in snapshot.sources.values()) else 0


def _rules(config: Config, output: str | None, matchers: list[str]) -> int:
    from monitor.alerts.rules import rules_yaml, scope_matcher

    specs = {
        s.name: {m.name: m for m in s.collector_class.metrics} for s in config.sources if s.collector_class
    }
    static = {s.name: dict(s.labels) for s in config.sources}
    try:
        scope = tuple(scope_matcher(text) for text in matchers)
        text = rules_yaml(config.alerts, specs, scope, static)
    except ValueError as exc:  # a matcher that is none, or that leaves rules matching nothing
        print(f"monitor: --match: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    # Written all the same, but not with 0: a rule on a plugin that failed to import was not
    # checked against its metrics, as `monitor check` exits 1 for the same config.
    status = EXIT_CHECK_WARNINGS if config.warnings else 0
    if output is None:
        sys.stdout.write(text)
        return status
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"monitor: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {plural(len(config.alerts), 'alerting rule')} to {output}", file=sys.stderr)
    return status


def _run(config: Config, args: argparse.Namespace) -> int:
    from monitor.exporter import ExporterStartError
    from monitor.reload import hangup_handler, terminal_alive
    from monitor.runtime import Runtime

    runtime = Runtime(
        config,
        serve_metrics=True,
        listen=args.listen,
        keep_history=not args.headless,
        watch_config=args.watch,
    )
    if EARLY_HANGUP.hand_over(hangup_handler(runtime.reloader, dashboard=not args.headless)):
        # A HUP came before this handler: do what it would have done.
        if not args.headless and not terminal_alive():
            print("monitor: the terminal hung up before the dashboard started", file=sys.stderr)
            return 128 + signal.SIGHUP
        log.info("received SIGHUP while starting, reloading once started")
        runtime.reloader.request()
    try:
        if args.headless:
            return _run_headless(runtime)
        from monitor.tui.app import run_dashboard

        return run_dashboard(runtime)
    except ExporterStartError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return EXIT_CANNOT_SERVE


def _run_headless(runtime) -> int:
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    runtime.start()
    log.info("monitor running headless with %s", plural(len(runtime.config.sources), "source"))
    while not stopping.wait(1.0):
        pass
    runtime.stop()
    log.info("stopped")
    return 0
