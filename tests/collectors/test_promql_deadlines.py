"""Each promql query has its own deadline within the source's timeout: a slow one is a partial
error naming it while the others are shown, and Prometheus is given a timeout a little shorter
than monitor's own, so its own "query timed out" reaches the dashboard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from collectors.promql import PromqlCollector
from monitor.plugin import CollectError
from tests.collectors.conftest import ThreadedServer, run_collector, running_prometheus

pytestmark = [pytest.mark.needs_prometheus, pytest.mark.needs_node_exporter]

SLOW_MARK = "node_load1"
DELAY = 3.0


def delaying_proxy(upstream: str) -> web.Application:
    """The reviewer's slow link: forwards /api/v1/query to a real Prometheus, holding every query
    that mentions node_load1 for 3 s first."""

    async def forward(request: web.Request) -> web.Response:
        if SLOW_MARK in request.query.get("query", ""):
            await asyncio.sleep(DELAY)
        async with (
            aiohttp.ClientSession() as session,
            session.get(upstream + request.path, params=request.query) as answer,
        ):
            body = await answer.read()
        return web.Response(body=body, status=answer.status, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query", forward)
    return app


def success(samples: dict) -> dict[str, float]:
    return {
        dict(labels)["query"]: v for (name, labels), v in samples.items() if name == "promql_query_success"
    }


def test_a_query_slower_than_the_timeout_fails_alone_and_the_others_are_shown(prometheus_server):
    with ThreadedServer(delaying_proxy(prometheus_server)) as proxy:
        started = time.monotonic()
        samples, ctx = run_collector(
            PromqlCollector,
            {"url": proxy.url, "queries": {"fast_up": 'up{job="node"}', "slow_load1": SLOW_MARK}},
            timeout=1.5,
        )
        elapsed = time.monotonic() - started
    assert success(samples) == {"fast_up": 1, "slow_load1": 0}
    assert [value for (name, _), value in samples.items() if name == "fast_up"] == [1]
    assert not any(name == "slow_load1" for name, _ in samples)
    assert ctx.errors == ["slow_load1: no response within 1.5s (the source's timeout)"]
    assert elapsed < 2.5  # the poll ended at the source's timeout, not the slow query's answer


def test_the_source_is_down_only_when_every_query_is_too_slow(prometheus_server):
    with (
        ThreadedServer(delaying_proxy(prometheus_server)) as proxy,
        pytest.raises(CollectError, match=r"^every query failed; first: load1: no response within 1s"),
    ):
        run_collector(
            PromqlCollector,
            {"url": proxy.url, "queries": {"load1": SLOW_MARK, "load1_twice": f"2 * {SLOW_MARK}"}},
            timeout=1,
        )


async def _never_answer(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(status=204)


@pytest.fixture
def stuck_prometheus(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus whose remote storage never answers: a query that selects series waits
    for it until the query's timeout, then Prometheus answers with its own timeout error; one
    that selects nothing (`vector(1)`) answers at once."""
    storage = web.Application()
    storage.router.add_post("/read", _never_answer)
    with ThreadedServer(storage) as remote:
        yield from _prometheus_reading_from(f"{remote.url}/read", tmp_path)


def _prometheus_reading_from(remote_read: str, tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "prometheus.yml"
    config.write_text(f"remote_read:\n  - url: {remote_read}\n    read_recent: true\n")
    with running_prometheus(config) as url:
        yield url


def test_prometheus_own_timeout_error_arrives_as_a_partial_error(stuck_prometheus):
    samples, ctx = run_collector(
        PromqlCollector,
        {"url": stuck_prometheus, "queries": {"fine": "vector(1)", "stuck": "up"}},
        timeout=3,  # Prometheus is told 2.61 s, and monitor waits 2.9 s: room for a busy machine
    )
    assert success(samples) == {"fine": 1, "stuck": 0}
    assert samples[("fine", ())] == 1
    assert ctx.errors == ["stuck: HTTP 503: query timed out in expression evaluation"]
