"""What a receiver of monitor's webhook ends up believing, against real aiohttp receivers on
127.0.0.1: deliveries in order (a resolution is never overtaken by the firing it resolves),
one group per alertname with a stable groupKey, redirects refused, and what is lost said by
name in the log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from alerts_support import Clock, Fleet

from monitor.alerts import webhook
from monitor.alerts.service import Alerting
from monitor.alerts.webhook import WebhookNotifier
from monitor.config import Config, parse_config

SOURCE = '  - {name: local, collector: command, argv: ["true"], format: lines}\n'
HIGH = [{"name": "High", "source": "local", "metric": "load", "op": ">", "threshold": 0.9}]


@dataclass
class Post:
    path: str
    method: str
    body: dict | None
    status: int | None = None
    """What the receiver answered; None while it holds the request open."""


@dataclass
class Receiver:
    """Records every request; `answer(body, n)` gives the status of the n-th POST (1-based),
    or None to hold it open until `release` is set (then 200)."""

    answer: Callable[[dict, int], int | None] = lambda body, n: 200
    posts: list[Post] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        post = Post(request.path, request.method, await request.json() if request.can_read_body else None)
        self.posts.append(post)
        status = self.answer(post.body or {}, len(self.posts))
        if status is None:
            await self.release.wait()
            status = 200
        post.status = status
        return web.json_response({}, status=status)

    @property
    def held(self) -> int:
        return sum(p.status is None for p in self.posts)

    def accepted(self) -> list[dict]:
        return [p.body for p in self.posts if p.status is not None and p.status < 300 and p.body]

    def believes(self) -> dict[tuple[str, ...], str]:
        """Each alert's state as the receiver last accepted it (its labels' values)."""
        state: dict[tuple[str, ...], str] = {}
        for body in self.accepted():
            for sent in body["alerts"]:
                state[(sent["labels"]["alertname"], sent["labels"].get("site", ""))] = sent["status"]
        return state


async def serve(aiohttp_server, receiver: Receiver, *extra: web.RouteDef) -> str:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    app.add_routes(list(extra))
    server = await aiohttp_server(app, host="127.0.0.1")
    return str(server.make_url("/hook"))


async def until(check: Callable[[], object], deadline: float = 10.0) -> None:
    for _ in range(int(deadline / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def config(url: str | None, alerts: list[dict] = HIGH, **settings) -> Config:
    """A config with one source, `local`, these alerts and, unless `url` is None, a webhook."""
    text = "sources:\n" + SOURCE + f"alerts: {json.dumps(alerts)}\n"
    return parse_config(text + (f"webhook: {json.dumps({'url': url, **settings})}\n" if url else ""))


class Scene:
    """monitor's alerting unit (evaluator and webhook, wired as the Runtime runs them) over a
    test store: `publish` sets the load, per site or unlabelled, and runs one evaluation."""

    def __init__(self, config: Config) -> None:
        self.clock = Clock()
        self.fleet = Fleet(self.clock)
        self.fleet.add()
        self.alerting = Alerting(config, self.fleet.store, clock=self.clock)
        assert self.alerting.notifier is not None
        self.alerting.notifier.start()

    @property
    def notifier(self) -> WebhookNotifier:
        assert self.alerting.notifier is not None
        return self.alerting.notifier

    def publish(self, load: float | None = None, **sites: float) -> list[str]:
        self.clock.advance(1)
        series = {("load", (("site", site),)): value for site, value in sites.items()}
        self.fleet.publish(load if load is not None else series)
        return [f"{e.instance.alert} {e.state}" for e in self.alerting.evaluator.evaluate_once()]


@pytest.fixture
def scene() -> Iterator[Callable[[Config], Scene]]:
    made: list[Scene] = []

    def make(config: Config) -> Scene:
        made.append(Scene(config))
        return made[-1]

    yield make
    for each in made:
        assert each.alerting.stop(2.0)


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
        "stopping with 2 undelivered message(s), abandoned: High (1 firing, 0 resolved), "
        "Busy (1 firing, 0 resolved)"
    ) in caplog.text
    receiver.release.set()
