"""The receiver is told again what fires, as Alertmanager tells its receivers: a webhook added
by a reload or moved to a new URL learns of the alerts already firing, firing alerts are sent
again every `repeat_interval`, and a message given up is sent again (with its resolutions)."""

from __future__ import annotations

import asyncio

from alerts_support import Clock, Fleet
from webhook_support import Receiver, config, serve, until

from monitor.alerts.service import Alerting


async def test_a_webhook_added_by_a_reload_is_told_of_the_alerts_already_firing(aiohttp_server) -> None:
    receiver = Receiver()
    url = await serve(aiohttp_server, receiver)
    clock = Clock()
    fleet = Fleet(clock)
    fleet.add()
    alerting = Alerting(config(None), fleet.store, clock=clock)
    fleet.publish(3.0)
    assert [str(e.state) for e in alerting.evaluator.evaluate_once()] == ["firing"]
    alerting.start()
    try:
        await asyncio.to_thread(alerting.configure, config(url))
        await until(receiver.accepted)
        assert receiver.believes() == {("High", ""): "firing"}
        assert receiver.accepted()[0]["alerts"][0]["startsAt"] == "2027-01-15T08:00:00Z"
    finally:
        assert await asyncio.to_thread(alerting.stop, 2.0)


async def test_a_new_url_is_told_of_the_alerts_already_firing(aiohttp_server, scene) -> None:
    old, new = Receiver(), Receiver()
    alerts = scene(config(await serve(aiohttp_server, old)))
    assert alerts.publish(site_a=3.0, site_b=5.0) == ["High firing", "High firing"]
    await until(old.accepted)
    alerts.alerting.configure(config(await serve(aiohttp_server, new)))
    await until(new.accepted)
    assert new.believes() == {("High", "site_a"): "firing", ("High", "site_b"): "firing"}
    assert len(new.accepted()) == 1  # one POST for the alertname, both alerts in it


async def test_firing_alerts_are_sent_again_every_repeat_interval_until_they_resolve(
    aiohttp_server, scene
) -> None:
    receiver = Receiver()
    alerts = scene(config(await serve(aiohttp_server, receiver), repeat_interval="200ms"))
    alerts.publish(3.0)
    await until(lambda: len(receiver.accepted()) >= 3)
    sent = [body["alerts"] for body in receiver.accepted()[:3]]
    assert sent[0] == sent[1] == sent[2]  # the same alert, same startsAt and fingerprint
    assert [a["status"] for a in sent[0]] == ["firing"]
    alerts.publish(0.1)
    await until(lambda: receiver.accepted()[-1]["status"] == "resolved")
    told = len(receiver.posts)
    await asyncio.sleep(0.6)
    assert len(receiver.posts) == told  # nothing fires: nothing to repeat


async def test_without_repeat_interval_a_firing_alert_is_sent_once(aiohttp_server, scene) -> None:
    receiver = Receiver()
    alerts = scene(config(await serve(aiohttp_server, receiver), repeat_interval=0))
    alerts.publish(3.0)
    await until(receiver.accepted)
    await asyncio.sleep(0.6)
    assert len(receiver.posts) == 1


async def test_a_message_given_up_is_sent_again_with_the_resolutions_it_held(aiohttp_server, scene) -> None:
    """A receiver down for longer than the retries last missed the firing, then the
    resolution: neither was ever sent again, so it never knew, or showed the alert firing for
    good."""
    refusing = [True]
    receiver = Receiver(lambda body, n: 503 if refusing[0] else 200)
    alerts = scene(config(await serve(aiohttp_server, receiver), retries=0, repeat_interval="300ms"))
    alerts.publish(3.0)
    await until(lambda: alerts.notifier.failed == 1)
    refusing[0] = False
    await until(receiver.accepted)
    assert receiver.believes() == {("High", ""): "firing"}
    refusing[0] = True
    alerts.publish(0.1)
    await until(lambda: alerts.notifier.failed == 2)
    assert receiver.believes() == {("High", ""): "firing"}
    refusing[0] = False
    await until(lambda: receiver.believes() == {("High", ""): "resolved"})
    assert receiver.accepted()[-1]["status"] == "resolved"
