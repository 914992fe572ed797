"""Webhook notifications in Alertmanager's webhook format, sent from a thread of their own.

The evaluator hands its events over with `loop.call_soon_threadsafe` and returns at once, so
a receiver that fails, hangs or is gone never delays evaluation or the dashboard.

Messages are grouped by alertname, as Alertmanager's `group_by: [alertname]` does: one POST
holds every alert of that name firing now plus those that just resolved, under a groupKey
that stays the same for the alertname's whole life, so the POST's `status` is the group's.

One worker sends one message at a time, in the order they were made, each retried with
exponential backoff before the next is sent: a later message about an alert can never
overtake an earlier one (with each POST retried on its own, a resolution delivered at once
was followed by the firing it resolved, retried late, and the receiver showed the alert
firing forever). At most one message per alertname waits: a newer one takes the waiting
one's place and keeps the resolutions it held, so a receiver that is down for a while gets
the current state when it comes back rather than every step it missed. A message being
retried is replaced the same way when a newer one for its alertname arrives.

As Alertmanager does, the receiver is told again what fires: the firing alerts of an alertname
are sent again `repeat_interval` after its last message (sooner, FAILED_RESEND, after a message
given up, which also hands its resolutions on), and all alerts firing are sent when the
notifier starts (a webhook added by a reload) or its URL changes: a receiver that lost a
message, or was not there when it was sent, is not left believing an alert is not firing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from yarl import URL

from monitor.alerts.definitions import WebhookSettings
from monitor.alerts.state import AlertEvent, AlertInstance, AlertState
from monitor.redaction import REDACTED
from monitor.wording import plural

log = logging.getLogger(__name__)

MAX_WAITING = 100
"""Messages waiting to be sent. With one per alertname at most, only a flood of different
alertnames fills it; past it the oldest message without a resolution is dropped."""
MAX_BACKOFF = 60.0
FAILED_RESEND = 300.0
"""Seconds after a message was given up before its alertname's firing alerts, and the
resolutions it held, are sent again (if repeat_interval is not shorter, and not 0): as
Alertmanager tries a failed notification again at its group's next group_interval (5 minutes
by default)."""
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


def alert_document(instance: AlertInstance) -> dict[str, Any]:
    """One entry of a POST's `alerts`, as Alertmanager writes it (plus monitor's `value`)."""
    labels = alert_labels(instance)
    return {
        "status": "resolved" if instance.state is AlertState.RESOLVED else "firing",
        "labels": labels,
        "annotations": {"summary": instance.summary},
        "startsAt": _rfc3339(instance.fired_at),
        "endsAt": _rfc3339(instance.resolved_at),
        "generatorURL": "",
        "fingerprint": hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16],
        "value": json_number(instance.value),
    }


def group_key(alertname: str) -> str:
    """Alertmanager's key for the group of the root route (`{}`) grouped by alertname."""
    return '{}:{alertname="' + alertname + '"}'


def alertmanager_payload(
    alertname: str, alerts: Sequence[dict[str, Any]], receiver: str = "monitor"
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for one group: `alerts` are alert_document()s
    of one alertname, firing or resolved; the body is `firing` while any of them fires."""
    common_labels = set.intersection(*(set(a["labels"].items()) for a in alerts)) if alerts else set()
    common_annotations = (
        set.intersection(*(set(a["annotations"].items()) for a in alerts)) if alerts else set()
    )
    return {
        "version": "4",
        "groupKey": group_key(alertname),
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": alertname},
        "commonLabels": dict(sorted(common_labels)),
        "commonAnnotations": dict(sorted(common_annotations)),
        "externalURL": "",
        "alerts": list(alerts),
    }


@dataclass(slots=True)
class Message:
    """One POST to make: the alerts of one alertname, by fingerprint."""

    alertname: str
    alerts: dict[str, dict[str, Any]]

    def absorb(self, older: Message) -> None:
        """Take over what an older, unsent message for the same alertname said about alerts
        this one does not mention: above all their resolutions, which must not be lost."""
        for fingerprint, alert in older.alerts.items():
            self.alerts.setdefault(fingerprint, alert)

    @property
    def resolutions(self) -> int:
        return sum(a["status"] == "resolved" for a in self.alerts.values())

    def describe(self) -> str:
        """For the log: `HighCPU (2 firing, 1 resolved)`."""
        resolved = self.resolutions
        return f"{self.alertname} ({len(self.alerts) - resolved} firing, {resolved} resolved)"

    def payload(self) -> dict[str, Any]:
        return alertmanager_payload(self.alertname, list(self.alerts.values()))


def describe(messages: Iterable[Message]) -> str:
    return ", ".join(m.describe() for m in messages)


def firing_messages(firing: Iterable[AlertInstance]) -> dict[str, Message]:
    """The alerts firing now, one message per alertname."""
    messages: dict[str, Message] = {}
    for instance in firing:
        document = alert_document(instance)
        messages.setdefault(instance.alert, Message(instance.alert, {})).alerts[document["fingerprint"]] = (
            document
        )
    return messages


class WebhookNotifier:
    """Call it with each evaluation's events (and the alerts firing after it)."""

    def __init__(
        self,
        settings: WebhookSettings,
        firing: Callable[[], Iterable[AlertInstance]] = tuple,
        redact: Callable[[str], str] = str,
    ) -> None:
        """`firing` gives the alerts firing now (the evaluator's view), read from the
        notifier's thread: what it sends when it starts, when its URL changes and at each
        repeat_interval. `redact` hides the config's ${VAR} values from what is logged: a
        webhook's URL often carries a token (in its path, query or user info)."""
        self.settings = settings
        self._redact = redact
        self._firing = firing
        self.delivered = 0
        """Messages the receiver accepted."""
        self.failed = 0
        """Messages given up after their last attempt."""
        self.dropped = 0
        """Messages dropped unsent because MAX_WAITING others were waiting."""
        self.superseded = 0
        """Messages replaced, before they were delivered, by a newer one for their alertname."""
        self.failed_attempts = 0
        self._waiting: collections.OrderedDict[str, Message] = collections.OrderedDict()
        """The line, by alertname (touched on the notifier's loop only)."""
        self._sending: Message | None = None
        self._work = asyncio.Event()
        self._retry_now = asyncio.Event()
        """Cuts a backoff short: new settings, or a newer message for the one being retried."""
        self._settings_version = 0
        self._told: dict[str, tuple[float, bool]] = {}
        """Per alertname, when its last message was done with (the loop's clock) and whether
        it was delivered: its firing alerts are sent again repeat_interval later."""
        self._told_changed = asyncio.Event()
        self._lost: dict[str, dict[str, dict[str, Any]]] = {}
        """Per alertname, the resolutions of its last message, given up: the next message for
        it carries them, or the receiver would show those alerts firing for good."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The URL as logs and notifications show it: secrets and any password left out."""
        return self._shown(self.settings)

    def _shown(self, settings: WebhookSettings) -> str:
        url = URL(str(settings.url))
        if url.password:
            url = url.with_password(REDACTED)
        return self._redact(str(url))

    @property
    def queued(self) -> int:
        """Messages waiting or being sent (read from other threads: a moment's count)."""
        return len(self._waiting) + (self._sending is not None)

    def start(self) -> None:
        """Start sending, beginning with the alerts firing now: a webhook a reload adds is
        told of the alerts that fired before it was there."""
        self._thread = threading.Thread(target=self._serve, name="alert-webhook", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._open())
        workers = [loop.create_task(self._deliver_in_order()), loop.create_task(self._repeat())]
        self._tell_what_fires()
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close(workers))
            loop.close()

    async def _open(self) -> None:
        # No session-wide timeout: each attempt takes the one of the settings it is sent with.
        self._session = aiohttp.ClientSession()

    async def _close(self, workers: list[asyncio.Task]) -> None:
        abandoned = [*([self._sending] if self._sending is not None else []), *self._waiting.values()]
        if abandoned:
            log.warning(
                "alert webhook %s: stopping with %s, abandoned: %s",
                self.url,
                plural(len(abandoned), "undelivered message"),
                describe(abandoned),
            )
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def __call__(self, events: Sequence[AlertEvent], firing: Iterable[AlertInstance] = ()) -> None:
        """Never blocks: queues one message per alertname that has news and returns.

        `firing` is every alert firing after this evaluation (AlertsView.in_state): each
        message holds all the firing alerts of its alertname, as Alertmanager's do, so a
        resolution of one series does not read as the whole group resolving."""
        loop = self._loop
        send_resolved = self.settings.send_resolved
        messages = {  # in the order of the events
            e.instance.alert: Message(e.instance.alert, {})
            for e in events
            if send_resolved or e.state is AlertState.FIRING
        }
        if loop is None or not messages:
            return
        for instance in itertools.chain(firing, (e.instance for e in events)):
            message = messages.get(instance.alert)
            if message is None or (instance.state is AlertState.RESOLVED and not send_resolved):
                continue
            document = alert_document(instance)
            message.alerts[document["fingerprint"]] = document
        try:
            loop.call_soon_threadsafe(self._enqueue, list(messages.values()))
        except RuntimeError:  # the loop has closed: stop() ran
            log.warning("alert webhook %s: stopped; not sent: %s", self.url, describe(messages.values()))

    def _tell_what_fires(self) -> None:
        """Queue the alerts firing now (on the loop)."""
        self._enqueue(list(firing_messages(self._firing()).values()))

    def _enqueue(self, messages: list[Message]) -> None:
        for message in messages:
            name = message.alertname
            for fingerprint, resolution in self._lost.pop(name, {}).items():
                message.alerts.setdefault(fingerprint, resolution)
            waiting = self._waiting.get(name)
            if waiting is not None:
                message.absorb(waiting)
                self._waiting[name] = message  # takes the place in line of the one it replaces
                self.superseded += 1
            else:
                if len(self._waiting) >= MAX_WAITING:
                    self._drop_one()
                self._waiting[name] = message
            if self._sending is not None and self._sending.alertname == name:
                self._waiting.move_to_end(name, last=False)  # next: it replaces the one being sent
                self._retry_now.set()
        self._work.set()

    def _drop_one(self) -> None:
        """The oldest waiting message that resolves nothing goes (a firing alert is sent again
        with the next news of its alertname; a lost resolution would leave it firing for good),
        else the oldest."""
        victim = next((m for m in self._waiting.values() if not m.resolutions), None)
        victim = victim or next(iter(self._waiting.values()))
        del self._waiting[victim.alertname]
        self.dropped += 1
        log.warning(
            "alert webhook %s: %d messages waiting to be sent; dropped the oldest, %s",
            self.url,
            MAX_WAITING,
            victim.describe(),
        )

    async def _deliver_in_order(self) -> None:
        while True:
            while not self._waiting:
                self._work.clear()
                await self._work.wait()
            _, message = self._waiting.popitem(last=False)
            self._sending = message
            try:
                await self._deliver(message)
            finally:
                self._sending = None

    async def _deliver(self, message: Message) -> None:
        attempt, version = 0, self._settings_version
        while True:
            if version != self._settings_version:  # new settings: a full set of attempts with them
                attempt, version = 0, self._settings_version
            settings = self.settings
            problem = await self._post(message.payload(), settings)
            if problem is None:
                self.delivered += 1
                self._done_with(message, delivered=True)
                return
            self.failed_attempts += 1
            attempt += 1
            last = attempt > settings.retries
            delay = min(MAX_BACKOFF, settings.backoff * 2 ** (attempt - 1))
            log.warning(
                "alert webhook %s: attempt %d of %d failed: %s; %s %s",
                self._shown(settings),
                attempt,
                settings.retries + 1,
                self._redact(problem),
                "giving up on" if last else "retrying",
                message.describe() if last else f"{message.describe()} in {delay:g}s",
            )
            if last:
                self.failed += 1
            elif self._waiting.get(message.alertname) is None and version == self._settings_version:
                self._retry_now.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._retry_now.wait(), delay)
            newer = self._waiting.get(message.alertname)
            if newer is not None:  # it says what this one said, and what has happened since
                newer.absorb(message)
                if not last:
                    self.superseded += 1
                    log.info(
                        "alert webhook %s: %s replaced by the newer %s, sent next",
                        self._shown(settings),
                        message.describe(),
                        newer.describe(),
                    )
                return
            if last:
                self._done_with(message, delivered=False)
                return

    def _done_with(self, message: Message, delivered: bool) -> None:
        """Note when the alertname was last told, for its repeat; keep the resolutions of a
        message given up for its next one."""
        name = message.alertname
        if not delivered:
            resolutions = {fp: a for fp, a in message.alerts.items() if a["status"] == "resolved"}
            if resolutions:
                self._lost[name] = resolutions
        assert self._loop is not None
        self._told[name] = (self._loop.time(), delivered)
        self._told_changed.set()

    async def _repeat(self) -> None:
        """Send each alertname's firing alerts again when its repeat is due."""
        while True:
            self._told_changed.clear()
            wait = self._queue_due_repeats()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._told_changed.wait(), wait)

    def _queue_due_repeats(self) -> float | None:
        """Queue the repeats due now; return the seconds until the next one is (None: none).
        An alertname with a message waiting or being sent has no repeat: that message is
        the news, and its delivery sets the next repeat."""
        interval = self.settings.repeat_interval
        if not interval:
            return None
        assert self._loop is not None
        now, next_due, due = self._loop.time(), math.inf, []
        for name, (at, delivered) in self._told.items():
            when = at + (interval if delivered else min(interval, FAILED_RESEND))
            if when <= now:
                due.append(name)
            else:
                next_due = min(next_due, when)
        if due:
            busy = {*self._waiting, *([self._sending.alertname] if self._sending is not None else [])}
            firing = firing_messages(i for i in self._firing() if i.alert in due)
            for name in due:
                del self._told[name]
            self._enqueue(
                [
                    firing.get(name) or Message(name, {})
                    for name in due
                    if name not in busy and (name in firing or name in self._lost)
                ]
            )
        return None if next_due == math.inf else next_due - now

    async def _post(self, payload: dict[str, Any], settings: WebhookSettings) -> str | None:
        """None when the receiver took it, else what went wrong. A redirect is not followed:
        aiohttp would repeat a 301/302/303 as a GET without the body, the receiver would answer
        200 and the alert would be lost while counted as delivered."""
        assert self._session is not None
        url = str(settings.url)
        try:
            async with self._session.post(
                url,
                json=payload,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=settings.timeout),
            ) as response:
                if 200 <= response.status < 300:
                    return None
                if 300 <= response.status < 400:
                    location = response.headers.get("Location")
                    target = str(URL(url).join(URL(location))) if location else "nowhere (no Location)"
                    return (
                        f"HTTP {response.status} redirect to {target}: monitor does not follow "
                        "redirects (the POST would lose its body); set webhook.url to where it points"
                    )
                return f"HTTP {response.status}"
        except TimeoutError:
            return f"no answer within {settings.timeout:g}s"
        except (aiohttp.ClientError, ValueError) as exc:
            return str(exc) or type(exc).__name__

    def reconfigure(self, settings: WebhookSettings) -> None:
        """New settings (a config reload): messages waiting or being retried are kept and sent
        with them, each with a full set of attempts; a backoff under way is cut short. A new
        URL may be a receiver that has heard of nothing: it is sent the alerts firing now."""
        if settings == self.settings:
            return
        undelivered = self.queued
        new_receiver = settings.url != self.settings.url
        self.settings = settings
        log.info(
            "alert webhook settings changed; %s kept, to be sent to %s",
            plural(undelivered, "undelivered message"),
            self.url,
        )
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # stopped meanwhile
                loop.call_soon_threadsafe(self._settings_changed, new_receiver)

    def _settings_changed(self, new_receiver: bool) -> None:
        self._settings_version += 1
        self._retry_now.set()
        self._told_changed.set()  # a new repeat_interval applies at once
        if new_receiver:
            self._tell_what_fires()

    def collect(self) -> Iterator[Metric]:
        """The notifier's counters, for /metrics (see Alerting.collect)."""
        counters = [
            ("delivered", self.delivered, "Webhook messages the receiver accepted (2xx)."),
            ("failed", self.failed, "Webhook messages given up after their last attempt failed."),
            (
                "dropped",
                self.dropped,
                f"Webhook messages dropped unsent because {MAX_WAITING} others were waiting.",
            ),
            (
                "superseded",
                self.superseded,
                "Webhook messages replaced before delivery by a newer one for the same alertname "
                "(which carries their resolutions).",
            ),
        ]
        for name, value, text in counters:
            yield CounterMetricFamily(f"monitor_webhook_messages_{name}_total", text, value=value)
        yield CounterMetricFamily(
            "monitor_webhook_attempts_failed_total",
            "Webhook POSTs that failed (non-2xx answer, redirect, refused, timed out); retried.",
            value=self.failed_attempts,
        )
        yield GaugeMetricFamily(
            "monitor_webhook_messages_queued", "Webhook messages waiting or being sent.", value=self.queued
        )

    def stop(self, timeout: float = 1.0) -> bool:
        """Abandon undelivered messages (logged) and stop; False if the thread would not stop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return True
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        return not thread.is_alive()
