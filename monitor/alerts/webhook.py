"""Webhook notifications in Alertmanager's webhook format, sent from a thread of their own.

The evaluator hands events over with `loop.call_soon_threadsafe` and returns at once, so a
receiver that fails, hangs or is gone delays nothing but its own deliveries. Each delivery is
retried with exponential backoff; past MAX_IN_FLIGHT undelivered messages the newest are
dropped (and counted) rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from monitor.alerts.definitions import WebhookSettings
from monitor.alerts.state import AlertEvent, AlertInstance, AlertState

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 100
MAX_BACKOFF = 60.0
ZERO_TIME = "0001-01-01T00:00:00Z"
"""What Alertmanager writes as the endsAt of an alert still firing."""


def _rfc3339(timestamp: float | None) -> str:
    if timestamp is None:
        return ZERO_TIME
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def alert_labels(instance: AlertInstance) -> dict[str, str]:
    """The labels Prometheus would give this alert: the series', then the alert's own."""
    return {
        **dict(instance.labels),
        "alertname": instance.alert,
        "severity": str(instance.severity),
        "source": instance.source,
    }


def json_number(value: float | None) -> float | None:
    """NaN and the infinities are not JSON: Python would write them bare, and receivers
    written in Go (Alertmanager's own webhook consumers) reject the whole body. A value that
    is not a finite number is sent as null; the summary still says what it was."""
    return value if value is not None and math.isfinite(value) else None


def alertmanager_payload(events: Iterable[AlertEvent], receiver: str = "monitor") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for events that share one status."""
    alerts = []
    for event in events:
        instance = event.instance
        labels = alert_labels(instance)
        fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
        alerts.append(
            {
                "status": "resolved" if instance.state is AlertState.RESOLVED else "firing",
                "labels": labels,
                "annotations": {"summary": instance.summary},
                "startsAt": _rfc3339(instance.fired_at),
                "endsAt": _rfc3339(instance.resolved_at),
                "generatorURL": "",
                "fingerprint": fingerprint,
                "value": json_number(instance.value),
            }
        )
    common = set.intersection(*(set(a["labels"].items()) for a in alerts)) if alerts else set()
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + ",".join(sorted({a["labels"]["alertname"] for a in alerts})) + '"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {},
        "commonLabels": dict(sorted(common)),
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }


class WebhookNotifier:
    """Call it with each evaluation's events (an AlertEvaluator listener)."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.url = str(settings.url)
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="alert-webhook", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._open())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))

    async def _close(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def __call__(self, events: list[AlertEvent]) -> None:
        """Never blocks: schedules one POST per status on the notifier's loop and returns."""
        if not self.settings.send_resolved:
            events = [e for e in events if e.state is AlertState.FIRING]
        loop = self._loop
        if loop is None or not events:
            return
        for status in (AlertState.FIRING, AlertState.RESOLVED):
            group = [e for e in events if e.state is status]
            if not group:
                continue
            with self._lock:
                if self._in_flight >= MAX_IN_FLIGHT:
                    self.dropped += 1
                    log.warning(
                        "alert webhook %s: %d deliveries pending; dropping one", self.url, MAX_IN_FLIGHT
                    )
                    continue
                self._in_flight += 1
            payload = alertmanager_payload(group)
            loop.call_soon_threadsafe(lambda p=payload: loop.create_task(self._deliver(p)))

    async def _deliver(self, payload: dict[str, Any]) -> None:
        try:
            for attempt in range(self.settings.retries + 1):
                if attempt:
                    await asyncio.sleep(min(MAX_BACKOFF, self.settings.backoff * 2 ** (attempt - 1)))
                problem = await self._post(payload)
                if problem is None:
                    self.delivered += 1
                    return
                log.warning(
                    "alert webhook %s: attempt %d of %d failed: %s",
                    self.url,
                    attempt + 1,
                    self.settings.retries + 1,
                    problem,
                )
            self.failed += 1
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _post(self, payload: dict[str, Any]) -> str | None:
        assert self._session is not None
        try:
            async with self._session.post(self.url, json=payload) as response:
                if response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except TimeoutError:
            return f"no answer within {self.settings.timeout:g}s"
        except aiohttp.ClientError as exc:
            return str(exc) or type(exc).__name__

    def stop(self, timeout: float = 1.0) -> bool:
        """Abandon undelivered messages and stop; return False if the thread would not stop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return True
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        return not thread.is_alive()
