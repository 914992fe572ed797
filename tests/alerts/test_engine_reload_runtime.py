"""The reviewer's reload, end to end: a real Runtime, a command source, a webhook receiver on
127.0.0.1, and `Runtime.reload()` of an edited config file (what SIGHUP and `monitor reload` do).

Changing one alert's threshold, removing another and giving the source a new timeout (which
restarts its poller) must tell the receiver exactly two things: the removed alert and the
one that no longer holds are resolved. Nothing is fired again. A config that names two alerts
alike is refused, and the running alerts go on as they were."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.alerts.state import AlertState
from monitor.config import load_config
from monitor.runtime import Runtime


class Receiver:
    """Records the `alerts` of every POST, in arrival order."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.alerts.extend(body["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self, start: int = 0) -> list[tuple[str, str, str]]:
        return [(a["labels"]["alertname"], a["status"], a["startsAt"]) for a in self.alerts[start:]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def wait_for(check: Callable[[], object], what: str, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


CONFIG = """
sources:
  - name: val
    collector: command
    argv: [cat, "{value}"]
    format: number
    metric: val
    interval: 100ms{timeout}
    labels: {{team: payments}}
alerts:
  - {{name: Keep, source: val, metric: val, op: ">", threshold: 1}}
  - {{name: Moved, source: val, metric: val, op: ">", threshold: {moved}}}
{removed}  - {{name: Waiting, source: val, metric: val, op: ">", threshold: 1, for: 1h}}
webhook:
  url: {url}
  retries: 0
"""
REMOVED = '  - {name: Removed, source: val, metric: val, op: ">", threshold: 1}\n'


def test_a_reload_resolves_what_no_longer_holds_and_repeats_nothing(tmp_path, receiver) -> None:
    value = tmp_path / "value"
    value.write_text("15\n")
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(value=value, timeout="", moved=10, removed=REMOVED, url=receiver.url))
    runtime = Runtime(load_config(str(path)))
    runtime.start()
    try:
        wait_for(lambda: len(receiver.alerts) >= 3, "Keep, Moved and Removed firing")
        first = {name: starts for name, _, starts in receiver.seen()}
        told_before = len(receiver.alerts)
        assert sorted(first) == ["Keep", "Moved", "Removed"]
        before = {(a.alert, a.active_since, a.fired_at) for a in runtime.alerting.current().alerts}
        history = runtime.alerting.current().history

        path.write_text(
            CONFIG.format(value=value, timeout="\n    timeout: 90ms", moved=20, removed="", url=receiver.url)
        )
        status = runtime.reload()
        assert status.ok and status.changes.restarted == ("val",), status.message
        wait_for(lambda: len(receiver.alerts) >= told_before + 2, "the two resolutions")
        time.sleep(1.5)  # long enough for a restarted source's alerts to fire again, were they reset

        after = receiver.seen(told_before)
        assert sorted((name, status) for name, status, _ in after if status == "resolved") == [
            ("Moved", "resolved"),
            ("Removed", "resolved"),
        ]
        assert [
            (n, starts) for n, status, starts in after if status == "firing" and starts != first.get(n)
        ] == []
        view = runtime.alerting.current()
        kept = {(a.alert, a.active_since, a.fired_at) for a in view.alerts if a.alert in ("Keep", "Waiting")}
        assert kept == {entry for entry in before if entry[0] in ("Keep", "Waiting")}
        assert view.history[: len(history)] == history
    finally:
        assert runtime.stop() == []


TWO_ALERTS = """
sources:
  - {{name: val, collector: command, argv: [cat, "{value}"], format: number, metric: val, interval: 100ms}}
alerts:
  - {{name: ValHigh, source: val, metric: val, op: ">", threshold: 1, severity: critical}}
  - {{name: {second}, source: val, metric: val, op: ">", threshold: 100}}
"""


def test_a_reload_naming_two_alerts_alike_is_refused_and_the_running_alerts_go_on(tmp_path) -> None:
    """Accepted, the second ValHigh would have replaced or hidden the first in the evaluator
    while `monitor rules` wrote both: the reload fails with the file's line and column instead."""
    value = tmp_path / "value"
    value.write_text("15\n")
    path = tmp_path / "config.yaml"
    path.write_text(TWO_ALERTS.format(value=value, second="ValVeryHigh"))
    runtime = Runtime(load_config(str(path)))
    runtime.start()
    try:
        wait_for(lambda: runtime.alerting.current().in_state(AlertState.FIRING), "ValHigh firing")
        running = runtime.config
        before = runtime.alerting.current()

        path.write_text(TWO_ALERTS.format(value=value, second="ValHigh"))
        status = runtime.reload()
        assert not status.ok
        assert status.errors == (
            f"{path}:6:12: alerts[1].name: duplicate alert name 'ValHigh' (first defined at alerts[0], "
            "line 5); give each alert its own name, e.g. 'ValHighWarning' and 'ValHighCritical'",
        )
        assert runtime.config is running and runtime.reloader.config is running
        time.sleep(0.5)  # a few evaluations of what runs
        after = runtime.alerting.current()
        assert before.rules == (("ValHigh", "critical", "val"), ("ValVeryHigh", "warning", "val"))
        assert after.rules == before.rules
        assert [(a.alert, a.state, a.active_since, a.fired_at) for a in after.alerts] == [
            (a.alert, a.state, a.active_since, a.fired_at) for a in before.alerts
        ]
    finally:
        assert runtime.stop() == []
