"""What a receiver of monitor's webhook ends up believing, against real aiohttp receivers on
127.0.0.1: deliveries in order (a resolution is never overtaken by the firing it resolves),
one group per alertname with a stable groupKey, redirects refused, and what is lost said by
name in the log."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from webhook_support import HIGH, Receiver, config, serve, until

from monitor.alerts import webhook


async def test_a_resolution_is_never_overtaken_by_the_firing_it_resolves(aiohttp_server, scene) -> None:
    """The reviewer's case: the receiver refuses the first two firing POSTs, the value goes back
    meanwhile. Retried on its own, the firing arrived after the resolution and the receiver
    kept the alert firing for good."""
    receiver = Receiver(lambda body, n: 500 if body["status"] == "firing" and n <= 2 else 200)
    alerts = scene(config(await serve(aiohttp_server, receiver), retries=3, backoff="100ms"))
    assert alerts.publish(3.0) == ["High firing"]
    await until(lambda: receiver.posts)
    assert alerts.publish(0.1) == ["High resolved"]
    await until(lambda: receiver.accepted())
    await asyncio.sleep(1.0)  # longer than every retry of the first POST would take (0.1+0.2+0.4 s)
    assert receiver.believes() == {("High", ""): "resolved"}
    assert [(p.body["status"], p.status) for p in receiver.posts if p.body] == [
        ("firing", 500),
        ("resolved", 200),
    ]
    assert (alerts.notifier.delivered, alerts.notifier.superseded, alerts.notifier.queued) == (1, 1, 0)


async def test_a_newer_message_replaces_a_waiting_one_and_keeps_its_resolutions(
    aiohttp_server, scene
) -> None:
    """While the receiver holds the first POST, north resolves and then south fires: the one
    message still to send says both, under the same groupKey as the first."""
    receiver = Receiver(lambda body, n: None if n == 1 else 200)
    alerts = scene(config(await serve(aiohttp_server, receiver)))
    assert alerts.publish(north=3.0, south=0.1) == ["High firing"]
    await until(lambda: receiver.held == 1)
    assert alerts.publish(north=0.1, south=0.1) == ["High resolved"]
    assert alerts.publish(north=0.1, south=3.0) == ["High firing"]
    receiver.release.set()
    await until(lambda: alerts.notifier.delivered == 2)
    first, second = (p.body for p in receiver.posts)
    assert second["groupKey"] == first["groupKey"] == '{}:{alertname="High"}'
    assert second["status"] == "firing"
    assert sorted((a["labels"]["site"], a["status"]) for a in second["alerts"]) == [
        ("north", "resolved"),
        ("south", "firing"),
    ]
    assert receiver.believes() == {("High", "north"): "resolved", ("High", "south"): "firing"}
    assert (len(receiver.posts), alerts.notifier.superseded) == (2, 1)


async def test_one_post_per_alertname_whose_status_is_the_groups(aiohttp_server, scene) -> None:
    """As Alertmanager grouping by alertname: a receiver that keys incidents by groupKey (as
    PagerDuty bridges do) closes High only when its last series resolves."""
    receiver = Receiver()
    rules = [*HIGH, {"name": "Busy", "source": "local", "metric": "load", "op": ">", "threshold": 2}]
    alerts = scene(config(await serve(aiohttp_server, receiver), alerts=rules))
    assert alerts.publish(north=3.0, south=1.0) == ["High firing", "High firing", "Busy firing"]
    await until(lambda: alerts.notifier.delivered == 2)
    high, busy = (p.body for p in receiver.posts)
    assert (high["groupKey"], busy["groupKey"]) == ('{}:{alertname="High"}', '{}:{alertname="Busy"}')
    assert (high["groupLabels"], busy["groupLabels"]) == ({"alertname": "High"}, {"alertname": "Busy"})
    assert [len(high["alerts"]), len(busy["alerts"])] == [2, 1]

    assert alerts.publish(north=0.5, south=1.0) == ["High resolved", "Busy resolved"]
    await until(lambda: alerts.notifier.delivered == 4)
    high, busy = (p.body for p in receiver.posts[2:])
    assert (high["groupKey"], high["status"], busy["groupKey"], busy["status"]) == (
        '{}:{alertname="High"}',
        "firing",  # south still fires
        '{}:{alertname="Busy"}',
        "resolved",
    )
    assert sorted((a["labels"]["site"], a["status"]) for a in high["alerts"]) == [
        ("north", "resolved"),
        ("south", "firing"),
    ]
    assert alerts.publish(north=0.5, south=0.5) == ["High resolved"]
    await until(lambda: alerts.notifier.delivered == 5)
    last = receiver.posts[-1].body
    assert (last["groupKey"], last["status"], len(last["alerts"])) == ('{}:{alertname="High"}', "resolved", 1)


async def test_a_redirect_is_a_failure_naming_where_it_points(aiohttp_server, scene, caplog) -> None:
    """Followed, a 301 became a GET without the body: the alert was lost and counted delivered."""
    redirected, moved = [], Receiver()

    async def redirect(request: web.Request) -> web.Response:
        redirected.append(await request.json())
        raise web.HTTPMovedPermanently("/new-hook")

    routes = [web.post("/old-hook", redirect), web.route("*", "/new-hook", moved.handle)]
    url = await serve(aiohttp_server, Receiver(), *routes)
    alerts = scene(config(url.replace("/hook", "/old-hook"), retries=1, backoff="10ms"))
    alerts.publish(3.0)
    await until(lambda: alerts.notifier.delivered + alerts.notifier.failed == 1)
    assert (alerts.notifier.delivered, alerts.notifier.failed) == (0, 1)
    assert (len(redirected), moved.posts) == (2, [])  # both attempts refused, nothing followed
    assert f"HTTP 301 redirect to {url.replace('/hook', '/new-hook')}" in caplog.text
    assert "set webhook.url to where it points" in caplog.text


async def test_the_last_failed_attempt_names_the_alerts_given_up(aiohttp_server, scene, caplog) -> None:
    receiver = Receiver(lambda body, n: 503)
    alerts = scene(config(await serve(aiohttp_server, receiver), retries=1, backoff="10ms"))
    alerts.publish(north=3.0, south=3.0)
    await until(lambda: alerts.notifier.failed == 1)
    assert "attempt 2 of 2 failed: HTTP 503; giving up on High (2 firing, 0 resolved)" in caplog.text


async def test_a_full_line_drops_its_oldest_firing_message_not_the_newest(
    aiohttp_server, scene, caplog, monkeypatch
) -> None:
    """The newest messages are the most current, often resolutions: they are kept."""
    monkeypatch.setattr(webhook, "MAX_WAITING", 2)
    receiver = Receiver(lambda body, n: None if n == 1 else 200)
    rules = [
        {"name": name, "source": "local", "metric": "load", "op": op, "threshold": threshold}
        for name, op, threshold in [("A", ">", 1), ("B", ">", 2), ("C", ">", 2.5), ("D", "==", 2.4)]
    ]
    alerts = scene(config(await serve(aiohttp_server, receiver), alerts=rules))
    assert alerts.publish(1.5) == ["A firing"]
    await until(lambda: receiver.held == 1)
    assert alerts.publish(3.0) == ["B firing", "C firing"]  # both wait: the line is full
    assert alerts.publish(2.4) == ["C resolved", "D firing"]  # C's news replaces its waiting message
    receiver.release.set()
    await until(lambda: alerts.notifier.delivered == 3)
    assert [(p.body["groupLabels"]["alertname"], p.body["status"]) for p in receiver.posts] == [
        ("A", "firing"),
        ("C", "resolved"),
        ("D", "firing"),
    ]
    assert alerts.notifier.dropped == 1
    assert "2 messages waiting to be sent; dropped the oldest, B (1 firing, 0 resolved)" in caplog.text


async def test_stopping_says_which_messages_were_never_delivered(aiohttp_server, scene, caplog) -> None:
    receiver = Receiver(lambda body, n: None)
    rules = [*HIGH, {"name": "Busy", "source": "local", "metric": "load", "op": ">", "threshold": 2}]
    alerts = scene(config(await serve(aiohttp_server, receiver), alerts=rules))
    alerts.publish(1.5)
    await until(lambda: receiver.held == 1)
    alerts.publish(3.0)
    with caplog.at_level(logging.WARNING):
        assert await asyncio.to_thread(alerts.alerting.stop, 2.0)
    assert (
        "stopping with 2 undelivered messages, abandoned: High (1 firing, 0 resolved), "
        "Busy (1 firing, 0 resolved)"
    ) in caplog.text
    receiver.release.set()
