"""The aiohttp application: /metrics, the JSON API, /healthz and a small index page.

Only GET and HEAD are routed; aiohttp answers other methods with 405 and unknown paths
with 404, and the error middleware turns both (and 401) into JSON bodies so scripts get
one error shape everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from monitor.alerts.state import AlertsView
from monitor.exporter.alerts import AlertsSource, alerts_json
from monitor.exporter.api import JsonViews
from monitor.exporter.auth import Authenticator
from monitor.exporter.render import MetricsRenderer
from monitor.model import Snapshot

HealthCheck = Callable[[], str | None]
"""Returns None while pollers and store are alive, else the reason they are not."""

UNAUTHENTICATED_PATHS = frozenset({"/healthz"})
INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>monitor</title></head>
<body><h1>monitor</h1>
<ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics of every source</li>
<li><a href="/api/v1/snapshot">/api/v1/snapshot</a>: the current snapshot as JSON</li>
<li><a href="/api/v1/sources">/api/v1/sources</a>: every source's health as JSON</li>
<li><a href="/api/v1/alerts">/api/v1/alerts</a>: pending, firing and resolved alerts as JSON</li>
<li><a href="/healthz">/healthz</a>: 200 while the pollers are alive, 503 otherwise</li>
</ul></body></html>
"""

SNAPSHOT = web.AppKey("snapshot", Callable[[], Snapshot])
RENDERER = web.AppKey("renderer", MetricsRenderer)
HEALTH_CHECK = web.AppKey("health_check", HealthCheck)
JSON_VIEWS = web.AppKey("json_views", JsonViews)
ALERTS = web.AppKey("alerts", AlertsSource)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


def _auth_middleware(authenticator: Authenticator):
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in UNAUTHENTICATED_PATHS and not authenticator.allows(
            request.headers.get("Authorization")
        ):
            return _error(401, "authentication required", {"WWW-Authenticate": authenticator.challenge})
        return await handler(request)

    return check


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return _error(405, f"method {request.method} not allowed; use {allowed}", {"Allow": allowed})
    except web.HTTPNotFound:
        return _error(404, f"no such endpoint: {request.path}; see / for the list")


async def metrics(request: web.Request) -> web.StreamResponse:
    chunks, content_type = request.app[RENDERER].render(request.headers.get("Accept"))
    # Set the header verbatim: aiohttp's content_type= would drop the version parameters.
    response = web.StreamResponse(headers={"Content-Type": content_type, "Vary": "Accept"})
    response.content_length = sum(len(chunk) for chunk in chunks)
    await response.prepare(request)
    if request.method != "HEAD":
        for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response


async def _json_view(request: web.Request, with_values: bool) -> web.Response:
    """Built on a worker thread so a large body never stalls the scrapes this loop serves."""
    views = request.app[JSON_VIEWS]
    body = await asyncio.get_running_loop().run_in_executor(None, views.body, with_values)
    return web.Response(body=body, content_type="application/json")


async def snapshot(request: web.Request) -> web.Response:
    return await _json_view(request, with_values=True)


async def sources(request: web.Request) -> web.Response:
    return await _json_view(request, with_values=False)


async def alerts(request: web.Request) -> web.Response:
    return web.json_response(alerts_json(request.app[ALERTS]()))


async def healthz(request: web.Request) -> web.Response:
    problem = request.app[HEALTH_CHECK]()
    if problem is None:
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "unhealthy", "reason": problem}, status=503)


async def index(request: web.Request) -> web.Response:
    return web.Response(text=INDEX_HTML, content_type="text/html")


def make_app(
    snapshot_source: Callable[[], Snapshot],
    authenticator: Authenticator,
    health_check: HealthCheck,
    renderer: MetricsRenderer | None = None,
    alerts_source: AlertsSource | None = None,
) -> web.Application:
    """`alerts_source` is the alert evaluator's current view; without one /api/v1/alerts
    answers with no alerts."""
    app = web.Application(middlewares=[_json_errors, _auth_middleware(authenticator)])
    app[SNAPSHOT] = snapshot_source
    app[RENDERER] = renderer or MetricsRenderer(snapshot_source)
    app[HEALTH_CHECK] = health_check
    app[JSON_VIEWS] = JsonViews(snapshot_source)
    app[ALERTS] = alerts_source or AlertsView
    for path, handler in (
        ("/", index),
        ("/metrics", metrics),
        ("/api/v1/snapshot", snapshot),
        ("/api/v1/sources", sources),
        ("/api/v1/alerts", alerts),
        ("/healthz", healthz),
    ):
        app.router.add_get(path, handler)
    return app
