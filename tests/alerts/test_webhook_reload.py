"""The webhook across config reloads, and its counters on /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from webhook_support import HIGH, SOURCE, Receiver, config, serve, until

from monitor.alerts.service import Alerting
from monitor.config import parse_config
from monitor.store import MetricsStore
from tests.conftest import require_binary


async def test_new_settings_deliver_the_messages_the_old_ones_were_retrying(
    aiohttp_server, scene, caplog
) -> None:
    """The user fixes a wrong URL while the alert's POST is being retried: it goes to the new
    URL at once, instead of being cancelled without a word."""
    caplog.set_level(logging.INFO)
    wrong, right = Receiver(lambda body, n: 404), Receiver()
    alerts = scene(config(await serve(aiohttp_server, wrong), retries=5, backoff="30s"))
    assert alerts.publish(3.0) == ["High firing"]
    await until(lambda: wrong.posts)
    notifier = alerts.notifier
    started = time.monotonic()
    alerts.alerting.configure(config(await serve(aiohttp_server, right), retries=5, backoff="30s"))
    await until(lambda: right.accepted(), deadline=5.0)
    assert time.monotonic() - started < 5  # the 30 s backoff under way was cut short
    assert right.believes() == {("High", ""): "firing"}
    assert alerts.notifier is notifier and (notifier.delivered, notifier.failed, notifier.queued) == (1, 0, 0)
    assert "1 undelivered message kept, to be sent to http://127.0.0.1:" in caplog.text


async def test_a_webhook_removed_from_the_config_says_what_it_abandons(aiohttp_server, scene, caplog) -> None:
    receiver = Receiver(lambda body, n: 500)
    alerts = scene(config(await serve(aiohttp_server, receiver), retries=5, backoff="30s"))
    alerts.publish(3.0)
    await until(lambda: receiver.posts)
    await asyncio.to_thread(alerts.alerting.configure, config(None))
    assert alerts.alerting.notifier is None
    assert "the webhook was removed from the config" in caplog.text
    assert "abandoned: High (1 firing, 0 resolved)" in caplog.text


def scrape(collector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)  # as the exporter's own_metrics
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def test_the_webhook_counters_are_on_metrics_and_survive_a_settings_change(
    aiohttp_server, scene
) -> None:
    receiver = Receiver(lambda body, n: 503 if n <= 3 else 200)
    rules = [*HIGH, {"name": "Busy", "source": "local", "metric": "load", "op": ">", "threshold": 2}]
    url = await serve(aiohttp_server, receiver)
    alerts = scene(config(url, alerts=rules, retries=1, backoff="10ms"))
    alerts.publish(1.5)  # High: refused twice, given up
    await until(lambda: alerts.notifier.failed == 1)
    alerts.alerting.configure(config(url, alerts=rules, retries=2, backoff="10ms"))
    alerts.publish(3.0)  # Busy: refused once, then taken
    await until(lambda: alerts.notifier.delivered == 1)
    assert scrape(alerts.alerting) == {
        "monitor_webhook_messages_delivered_total": 1.0,
        "monitor_webhook_messages_failed_total": 1.0,
        "monitor_webhook_messages_dropped_total": 0.0,
        "monitor_webhook_messages_superseded_total": 0.0,
        "monitor_webhook_attempts_failed_total": 3.0,
        "monitor_webhook_messages_queued": 0.0,
    }
    promtool = require_binary("promtool")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(alerts.alerting)
    check = subprocess.run(
        [promtool, "check", "metrics"], input=generate_latest(registry), capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_without_a_webhook_there_are_no_webhook_series() -> None:
    assert scrape(Alerting(config(None), MetricsStore(history=0))) == {}


async def test_the_webhook_url_is_logged_without_its_secrets(aiohttp_server, scene, caplog) -> None:
    """A webhook URL written with ${VAR} in its user info and query was logged whole at WARNING
    (and so shown in the dashboard's notifications) on each failed attempt, and when a reload
    removed it, against the README's promise that ${VAR} values are never shown."""
    caplog.set_level(logging.INFO)
    receiver = Receiver(lambda body, n: 500)
    url = (await serve(aiohttp_server, receiver)).replace("http://", "http://hookuser:${HOOK_TOK}@")
    text = (
        "sources:\n"
        + SOURCE
        + f"alerts: {json.dumps(HIGH)}\n"
        + f"webhook: {{url: '{url}?k=${{HOOK_TOK}}', retries: 0}}\n"
    )
    secret = {"HOOK_TOK": "HookTokSecret7"}
    alerts = scene(parse_config(text, environ=secret))
    assert alerts.publish(3.0) == ["High firing"]
    await until(lambda: alerts.notifier.failed == 1)
    assert receiver.posts[0].path == "/hook", "the real URL was used"
    alerts.alerting.configure(parse_config("sources:\n" + SOURCE))  # removes the webhook
    logged = monitors_log(caplog)
    assert "attempt 1 of 1 failed: HTTP 500" in logged
    assert "no longer POSTed to http://hookuser:***@127.0.0.1:" in logged
    assert "HookTokSecret7" not in logged


async def test_a_password_written_in_the_webhook_url_is_not_logged(aiohttp_server, scene, caplog) -> None:
    receiver = Receiver(lambda body, n: 500)
    url = (await serve(aiohttp_server, receiver)).replace("http://", "http://hookuser:literal-pw@")
    alerts = scene(config(url, retries=0))
    assert alerts.publish(3.0) == ["High firing"]
    await until(lambda: alerts.notifier.failed == 1)
    logged = monitors_log(caplog)
    assert "alert webhook http://hookuser:***@127.0.0.1:" in logged
    assert "literal-pw" not in logged


def monitors_log(caplog) -> str:
    """What monitor logged (the test receiver's aiohttp access log has the URL it was sent)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("monitor"))
