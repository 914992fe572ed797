"""Credentials and configured headers go only to the configured URL's origin, across
redirects: two real aiohttp servers on 127.0.0.1 (one reached as `localhost`, the other as
127.0.0.1, on another port) record every request they get, and redirect to each other.

Before the fix, aiohttp put the session's basic auth back on every request of a redirect
chain, whatever the host, and kept configured headers such as `X-Api-Key`: the other server
received both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from collectors.http import HttpCollector
from collectors.prometheus import PrometheusCollector
from collectors.promql import PromqlCollector
from monitor.plugin import CollectError
from tests.collectors.conftest import ThreadedServer, run_collector

API_KEY = "k3y-for-a-only"
TOKEN = "t0ken-for-a-only"
PASSWORD = "pa55-for-a-only"
BASIC = "Basic dTpwYTU1LWZvci1hLW9ubHk="  # u:pa55-for-a-only
VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]},
}


@dataclass(frozen=True)
class Seen:
    server: str
    method: str
    path: str
    authorization: str | None
    api_key: str | None
    body: bytes


class Pair:
    """Server `a` (the configured one, at http://localhost:PORT) and server `b` (another
    origin, http://127.0.0.1:OTHER_PORT). The first part of a path says where to go next:
    `/a-b/...` to b, `/a-b-a/...` to b and back to a, `/a-a/...` to a again (a relative
    Location), `/307/...` to a again keeping the method; `/land/...` answers what the three
    collectors can read: a Prometheus API answer under `/api/v1/query`, else `up 1`."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.a = ThreadedServer(self._app("a"))
        self.b = ThreadedServer(self._app("b"))
        self.a.url = self.a.url.replace("127.0.0.1", "localhost")

    def _app(self, name: str) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.seen.append(
                Seen(
                    name,
                    request.method,
                    request.path,
                    request.headers.get("Authorization"),
                    request.headers.get("X-Api-Key"),
                    body,
                )
            )
            step, _, rest = request.path.lstrip("/").partition("/")
            rest = f"/{rest}" if rest else ""
            hops = {
                "a-b": f"{self.b.url}/land{rest}",
                "a-b-a": f"{self.b.url}/back{rest}",
                "back": f"{self.a.url}/land{rest}",
                "a-a": f"/land{rest}",
            }
            if step in hops:
                raise web.HTTPFound(hops[step])
            if step == "307":
                raise web.HTTPTemporaryRedirect(f"/land{rest}")
            if step == "chain":
                left = int(rest.strip("/"))
                raise web.HTTPFound(f"/chain/{left - 1}" if left > 1 else "/land")
            if step == "ftp":
                raise web.HTTPFound("ftp://127.0.0.1/file")
            if rest.endswith("/api/v1/query"):
                return web.json_response(VECTOR)
            return web.Response(text="up 1\n")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app

    def where(self) -> list[tuple[str, str]]:
        return [(seen.server, seen.path) for seen in self.seen]


@pytest.fixture
def pair() -> Iterator[Pair]:
    servers = Pair()
    with servers.a, servers.b:
        yield servers


COLLECTORS = {
    "http": (HttpCollector, {}, ""),
    "prometheus": (PrometheusCollector, {}, ""),
    "promql": (PromqlCollector, {"queries": {"q_up": "up"}}, "/api/v1/query"),
}
"""Collector, its other options, and what it appends to the URL."""

CREDENTIALS = {
    "basic_auth": (
        {"basic_auth": {"username": "u", "password": PASSWORD}, "headers": {"X-Api-Key": API_KEY}},
        BASIC,
    ),
    "bearer_token": ({"bearer_token": TOKEN, "headers": {"X-Api-Key": API_KEY}}, f"Bearer {TOKEN}"),
    "url": ({"headers": {"X-Api-Key": API_KEY}, "userinfo": True}, BASIC),
    "authorization_header": (
        {"headers": {"X-Api-Key": API_KEY, "Authorization": f"Bearer {TOKEN}"}},
        f"Bearer {TOKEN}",
    ),
}
"""Options, and the Authorization value server `a` must get."""


def _collect(pair: Pair, collector: str, credential: str, path: str) -> dict:
    cls, extra, _ = COLLECTORS[collector]
    options, _ = CREDENTIALS[credential]
    options = {key: value for key, value in options.items() if key != "userinfo"}
    base = pair.a.url
    if CREDENTIALS[credential][0].get("userinfo"):
        base = base.replace("http://", f"http://u:{PASSWORD}@")
    samples, ctx = run_collector(cls, {"url": f"{base}{path}", **extra, **options})
    assert ctx.errors == []
    return samples


def _check(pair: Pair, credential: str, expected_path: list[tuple[str, str]]) -> None:
    authorization = CREDENTIALS[credential][1]
    assert pair.where() == expected_path
    for seen in pair.seen:
        if seen.server == "a":
            assert (seen.authorization, seen.api_key) == (authorization, API_KEY), seen
        else:
            assert (seen.authorization, seen.api_key) == (None, None), seen


@pytest.mark.parametrize(
    ("path", "visits"),
    [
        pytest.param("/a-b", [("a", "/a-b"), ("b", "/land")], id="to-another-origin"),
        # a -> b -> a: the configured origin gets them each time, b never.
        pytest.param("/a-b-a", [("a", "/a-b-a"), ("b", "/back"), ("a", "/land")], id="and-back"),
        pytest.param("/a-a", [("a", "/a-a"), ("a", "/land")], id="within-the-origin"),
    ],
)
@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("collector", COLLECTORS)
def test_credentials_go_to_the_configured_origin_only_along_redirects(
    pair, collector, credential, path, visits
):
    _collect(pair, collector, credential, path)
    tail = COLLECTORS[collector][2]
    _check(pair, credential, [(server, f"{visited}{tail}") for server, visited in visits])


def test_another_port_on_the_same_host_is_another_origin(pair):
    """`localhost` and 127.0.0.1 are different hosts to monitor (it compares names, not
    addresses); so are two ports of one host."""
    pair.b.url = pair.b.url.replace("127.0.0.1", "localhost")
    _collect(pair, "http", "basic_auth", "/a-b")
    _check(pair, "basic_auth", [("a", "/a-b"), ("b", "/land")])


def test_redirects_counted_and_methods_kept_as_before(pair):
    """Redirects are followed by monitor now, not by aiohttp: what aiohttp did is kept. A 302
    after a POST is followed with a GET and no body, a 307 with the same POST and body; the
    count is the number followed, and 10 is the most (aiohttp gave up at the 10th)."""
    samples, _ = run_collector(HttpCollector, {"url": f"{pair.a.url}/a-b-a", "method": "POST", "body": "x=1"})
    assert samples[("http_redirects", ())] == 2
    assert [(seen.method, seen.body) for seen in pair.seen] == [("POST", b"x=1"), ("GET", b""), ("GET", b"")]
    pair.seen.clear()
    samples, _ = run_collector(HttpCollector, {"url": f"{pair.a.url}/307", "method": "POST", "body": "x=1"})
    assert samples[("http_redirects", ())] == 1
    assert [(seen.method, seen.path, seen.body) for seen in pair.seen] == [
        ("POST", "/307", b"x=1"),
        ("POST", "/land", b"x=1"),
    ]
    pair.seen.clear()
    samples, _ = run_collector(HttpCollector, {"url": f"{pair.a.url}/a-b", "follow_redirects": False})
    assert (samples[("http_status_code", ())], samples[("http_redirects", ())]) == (302, 0)
    assert pair.where() == [("a", "/a-b")]
    samples, _ = run_collector(HttpCollector, {"url": f"{pair.a.url}/chain/10"})
    assert (samples[("http_status_code", ())], samples[("http_redirects", ())]) == (200, 10)
    with pytest.raises(CollectError, match="/chain/11: more than 10 redirects"):
        run_collector(HttpCollector, {"url": f"{pair.a.url}/chain/11"})


def test_a_redirect_to_a_non_http_url_fails_the_poll(pair):
    with pytest.raises(CollectError, match=r"/ftp: redirected to a URL that is not http\(s\) with a host"):
        run_collector(HttpCollector, {"url": f"{pair.a.url}/ftp"})
