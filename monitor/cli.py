"""The `monitor` command: the dashboard by default, plus check, once and collectors."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from monitor import __version__
from monitor.catalog import catalog
from monitor.config import DEFAULT_LISTEN, Config, ConfigError, load_config, parse_listen
from monitor.registry import Registry

log = logging.getLogger("monitor")

EXIT_CONFIG_ERROR = 2
EXIT_CANNOT_SERVE = 3


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: ./config.yaml if present, else the built-in default dashboard)",
    )
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    common.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="log level (default: warning)"
    )
    return common


def _listen_address(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="monitor",
        parents=[common],
        description="Realtime monitoring dashboard for the terminal, and a Prometheus exporter.",
        epilog="Without a command, monitor opens the dashboard. See README.md for the config format.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument(
        "--headless", action="store_true", help="run without the dashboard: pollers and exporter only"
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=_listen_address,
        help=f"exporter address (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="reload the config whenever its file changes (see docs/RELOAD.md)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("check", parents=[common], help="validate the config; exit 2 on errors")
    commands.add_parser(
        "schema", parents=[common], help="print a JSON Schema of config.yaml (with every installed collector)"
    )
    once = commands.add_parser(
        "once", parents=[common], help="collect every source once and print the result"
    )
    once.add_argument("--format", choices=["table", "json"], default="table")
    listing = commands.add_parser(
        "collectors", parents=[common], help="list collector plugins, options and samples"
    )
    listing.add_argument("name", nargs="?", help="show only this collector")
    rules = commands.add_parser(
        "rules", parents=[common], help="write the config's alerts as a Prometheus alerting-rules file"
    )
    rules.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    reload = commands.add_parser(
        "reload",
        parents=[common],
        help="make the running monitor re-read its config (SIGHUP); exit 2 if the new config is invalid",
    )
    reload.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=_listen_address,
        help="exporter address of the instance to reload (default: the config's exporter.listen)",
    )
    return parser


def configure_logging(args: argparse.Namespace) -> None:
    quiet = "info" if getattr(args, "headless", False) else "warning"  # a service says what it serves
    level = args.log_level or {0: quiet, 1: "info"}.get(args.verbose, "debug")
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    if args.command == "collectors":
        registry = Registry.discover()
        if args.name and args.name not in registry.entry_points:
            print(
                f"monitor: no collector named {args.name!r}; installed: {', '.join(registry.names())}",
                file=sys.stderr,
            )
            return 1
        print(catalog(registry, args.name))
        return 0
    if args.command == "schema":
        from monitor.schema import render_schema

        print(render_schema(Registry.discover()))
        return 0
    if args.command == "reload":
        from monitor.runfiles import request_reload

        return request_reload(args.config, args.listen)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        problems = len(exc.problems)
        print(
            f"monitor: {problems} problem{'s' if problems != 1 else ''} in the config; nothing started",
            file=sys.stderr,
        )
        return EXIT_CONFIG_ERROR
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.command == "check":
        print(config.summary())
        return 0
    if args.command == "once":
        return _once(config, args.format)
    if args.command == "rules":
        return _rules(config, args.output)
    return _run(config, args)


def _once(config: Config, output_format: str) -> int:
    from monitor.once import collect_once, render_json, render_table

    snapshot = collect_once(config)
    print(render_json(snapshot) if output_format == "json" else render_table(snapshot))
    return 0


def _rules(config: Config, output: str | None) -> int:
    from monitor.alerts.rules import rules_yaml

    specs = {
        s.name: {m.name: m for m in s.collector_class.metrics} for s in config.sources if s.collector_class
    }
    text = rules_yaml(config.alerts, specs)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"monitor: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(config.alerts)} alerting rules to {output}", file=sys.stderr)
    return 0


def _run(config: Config, args: argparse.Namespace) -> int:
    from monitor.exporter import ExporterStartError
    from monitor.reload import hangup_handler
    from monitor.runtime import Runtime

    runtime = Runtime(
        config,
        serve_metrics=True,
        listen=args.listen,
        keep_history=not args.headless,
        watch_config=args.watch,
    )
    signal.signal(signal.SIGHUP, hangup_handler(runtime.reloader, dashboard=not args.headless))
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
    log.info("monitor running headless with %d sources", len(runtime.config.sources))
    while not stopping.wait(1.0):
        pass
    runtime.stop()
    log.info("stopped")
    return 0
