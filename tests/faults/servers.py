"""Misbehaving servers on 127.0.0.1 for the fault suite: the collectors suite's aiohttp app
(huge, truncated, cardinality explosion...) plus a slow route, a black hole and a switch."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

from aiohttp import web

from tests.collectors.conftest import ThreadedServer, make_app

SLOW_SECONDS = 2.0
"""The slow route answers in 2x the interval its source polls it at (1 s)."""


class Switch:
    """A route that fails (HTTP 503) while `failing` is set: a source that goes down and
    recovers when the test says so."""

    def __init__(self) -> None:
        self.failing = False

    async def handle(self, request: web.Request) -> web.Response:
        if self.failing:
            return web.Response(status=503, text="down for the test")
        return web.Response(text="# TYPE flappy gauge\nflappy 1\n")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(SLOW_SECONDS)
    return web.Response(text="# TYPE late gauge\nlate 1\n")


async def _label_chaos(request: web.Request) -> web.Response:
    """Label values that must be escaped: quotes, backslashes, newlines, control characters."""
    values = ['say "hi"', "back\\slash", "two\nlines", "bell\x07tab\tnul\x01", "ünïcødé ✓"]
    lines = ["# TYPE chaos gauge"]
    for index, value in enumerate(values):
        escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        lines.append(f'chaos{{what="{escaped}"}} {index}')
    return web.Response(text="\n".join(lines) + "\n")


@contextlib.contextmanager
def fault_server(switch: Switch | None = None) -> Iterator[ThreadedServer]:
    app = make_app()
    app.router.add_get("/slow2x", _slow)
    app.router.add_get("/chaos", _label_chaos)
    app.router.add_get("/flappy", (switch or Switch()).handle)
    with ThreadedServer(app) as server:
        yield server


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port whose kernel completes every TCP handshake but where nothing ever reads or
    answers: connections succeed, requests wait forever."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield sock.getsockname()[1]
