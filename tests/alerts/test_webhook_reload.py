"""The webhook across config reloads, and its counters on /metrics."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from webhook_support import HIGH, Receiver, config, serve, until

from monitor.alerts.service import Alerting
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
    assert "1 undelivered message(s) kept, to be sent to http://127.0.0.1:" in caplog.text


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
