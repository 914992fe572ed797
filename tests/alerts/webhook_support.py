"""A webhook receiver on loopback and monitor's alerting unit over a test store, for the
webhook tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from alerts_support import Clock, Fleet

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
