"""Webhook notifications against real aiohttp receivers on 127.0.0.1: one that answers, one
that fails, one that hangs."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable

import pytest
from aiohttp import web
from alerts_support import Clock, Fleet, alert
from webhook_support import serve, until

from monitor.alerts.definitions import WebhookSettings
from monitor.alerts.evaluator import AlertEvaluator
from monitor.alerts.webhook import WebhookNotifier, alert_document, alertmanager_payload, json_number


class Receiver:
    """Records every POSTed body; `answer(n)` decides the status of the n-th request (or hangs)."""

    def __init__(self, answer: Callable[[int], int | None] = lambda n: 200) -> None:
        self.bodies: list[dict] = []
        self.answer = answer
        self.hung = 0
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        status = self.answer(len(self.bodies))
        if status is None:
            self.hung += 1
            await self.release.wait()
            status = 200
        return web.json_response({}, status=status)


def fire_and_resolve():
    """The firing and the resolved events of one alert, from the real engine."""
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add(labels=(("site", "north"),))
    evaluator = AlertEvaluator(
        [alert(severity="critical", summary="load {{ value }}")], fleet.store, clock=clock
    )
    fleet.publish(3.0)
    firing = evaluator.evaluate_once()
    clock.advance(5)
    fleet.publish(0.1)
    return firing, evaluator.evaluate_once()


@pytest.fixture
def notifiers():
    started: list[WebhookNotifier] = []

    def start(url: str, **settings) -> WebhookNotifier:
        notifier = WebhookNotifier(WebhookSettings(url=url, **settings))
        notifier.start()
        started.append(notifier)
        return notifier

    yield start
    for notifier in started:
        assert notifier.stop(2.0)


async def test_firing_and_resolved_reach_the_receiver_as_alertmanager_json(aiohttp_server, notifiers) -> None:
    receiver = Receiver()
    notifier = notifiers(await serve(aiohttp_server, receiver))
    firing, resolved = fire_and_resolve()
    notifier(firing)
    await until(lambda: len(receiver.bodies) == 1)
    notifier(resolved)
    await until(lambda: notifier.delivered == 2)
    first, second = receiver.bodies
    assert (first["version"], first["status"], second["status"]) == ("4", "firing", "resolved")
    sent = first["alerts"][0]
    assert sent["labels"] == {"alertname": "High", "severity": "critical", "source": "local", "site": "north"}
    assert sent["annotations"] == {"summary": "load 3"}
    assert sent["startsAt"] == "2027-01-15T08:00:00Z"
    assert sent["endsAt"] == "0001-01-01T00:00:00Z"
    assert second["alerts"][0]["endsAt"] == "2027-01-15T08:00:05Z"
    assert second["alerts"][0]["fingerprint"] == sent["fingerprint"]
    assert first["commonLabels"]["alertname"] == "High"
    assert first["groupKey"] == second["groupKey"] == '{}:{alertname="High"}'
    assert first["commonAnnotations"] == {"summary": "load 3"}


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(aiohttp_server, notifiers) -> None:
    receiver = Receiver(lambda n: 500 if n < 3 else 200)
    notifier = notifiers(await serve(aiohttp_server, receiver), retries=3, backoff="20ms")
    notifier(fire_and_resolve()[0])
    await until(lambda: notifier.delivered == 1)
    assert (len(receiver.bodies), notifier.failed) == (3, 0)
    assert receiver.bodies[0] == receiver.bodies[2]


async def test_a_receiver_failing_every_attempt_gives_up_after_the_retries(aiohttp_server, notifiers) -> None:
    receiver = Receiver(lambda n: 503)
    notifier = notifiers(await serve(aiohttp_server, receiver), retries=2, backoff="10ms")
    notifier(fire_and_resolve()[0])
    await until(lambda: notifier.failed == 1)
    assert (len(receiver.bodies), notifier.delivered) == (3, 0)


async def test_resolved_alerts_are_not_sent_when_send_resolved_is_off(aiohttp_server, notifiers) -> None:
    receiver = Receiver()
    notifier = notifiers(await serve(aiohttp_server, receiver), send_resolved=False)
    firing, resolved = fire_and_resolve()
    notifier(resolved)
    notifier(firing)
    await until(lambda: notifier.delivered == 1)
    assert [b["status"] for b in receiver.bodies] == ["firing"]


async def test_a_hanging_receiver_times_out_and_never_holds_up_evaluation(aiohttp_server, notifiers) -> None:
    receiver = Receiver(lambda n: None)
    notifier = notifiers(await serve(aiohttp_server, receiver), timeout="200ms", retries=1, backoff="10ms")
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add()
    evaluator = AlertEvaluator([alert()], fleet.store, clock=clock, listeners=[notifier])
    fleet.publish(3.0)
    assert [str(e.state) for e in evaluator.evaluate_once()] == ["firing"]
    await until(lambda: receiver.hung == 1)
    # The receiver holds the request open; evaluation carries on regardless.
    for value, state in [(0.1, "resolved"), (5.0, "firing"), (0.2, "resolved")]:
        clock.advance(1)
        fleet.publish(value)
        assert [str(e.state) for e in evaluator.evaluate_once()] == [state]
    assert str(evaluator.current().alerts[0].state) == "resolved"
    # The first message times out; the three made meanwhile replaced one another, and the
    # first one too: only the latest state is tried next (twice, each attempt timed out).
    await until(lambda: notifier.failed == 1)
    assert (receiver.hung, notifier.delivered, notifier.superseded) == (3, 0, 3)
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved", "resolved"]
    receiver.release.set()


def test_a_value_that_is_not_a_finite_number_is_sent_as_valid_json() -> None:
    """`!=` fires on NaN; bare NaN in the body would make strict JSON receivers reject it."""
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add()
    evaluator = AlertEvaluator([alert(op="!=", threshold=0)], fleet.store, clock=clock)
    fleet.publish(math.nan)
    firing = evaluator.evaluate_once()
    payload = alertmanager_payload("High", [alert_document(e.instance) for e in firing])
    assert payload["alerts"][0]["status"] == "firing"
    assert json.loads(json.dumps(payload, allow_nan=False))["alerts"][0]["value"] is None
    assert [json_number(x) for x in (math.inf, -math.inf, 2.5, None)] == [None, None, 2.5, None]
