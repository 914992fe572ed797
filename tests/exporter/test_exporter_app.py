"""Every endpoint, status code and content type, through aiohttp's test client."""

from __future__ import annotations

import base64
import math

import pytest
from exporter_support import add_source, failed, healthy

from monitor.config import ExporterSettings
from monitor.exporter.app import make_app
from monitor.exporter.auth import Authenticator
from monitor.model import MetricSpec
from monitor.store import MetricsStore


@pytest.fixture
def store() -> MetricsStore:
    store = MetricsStore()
    add_source(
        store,
        "web",
        {("temp_celsius", (("room", "lab"),)): 21.5, ("odd", ()): math.nan},
        labels=(("env", "prod"),),
        specs={"temp_celsius": MetricSpec("temp_celsius", "Room temperature.")},
    )
    add_source(store, "db", {("x", ()): 1.0})
    store.publish("db", failed(error="connection refused"))
    return store


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def client_for(aiohttp_client, store: MetricsStore, problem: str | None = None, **settings):
    authenticator = Authenticator(ExporterSettings(**settings))
    return aiohttp_client(make_app(store.snapshot, authenticator, lambda: problem))


async def test_metrics_text_format_by_default(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = await response.text()
    assert 'temp_celsius{env="prod",room="lab",source="web"} 21.5' in text
    assert 'monitor_source_up{source="db"} 0.0' in text


async def test_metrics_openmetrics_when_the_scraper_accepts_it(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    response = await client.get("/metrics", headers={"Accept": accept})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith(
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert (await response.text()).endswith("# EOF\n")
    assert response.headers["Vary"] == "Accept"  # a cache between must not serve one format for the other


async def test_head_metrics_has_headers_and_no_body(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.head("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert await response.read() == b""


async def test_snapshot_api_has_health_and_values(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.get("/api/v1/snapshot")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["version"] == store.snapshot().version
    web = body["sources"]["web"]
    assert web["state"] == "up" and web["labels"] == {"env": "prod"}
    assert {"name": "temp_celsius", "labels": {"room": "lab"}, "value": 21.5} in web["series"]
    assert {"name": "odd", "labels": {}, "value": "NaN"} in web["series"]
    db = body["sources"]["db"]
    assert db["state"] == "down" and db["last_error"] == "connection refused"


async def test_sources_api_is_health_only(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    body = await (await client.get("/api/v1/sources")).json()
    assert set(body["sources"]) == {"web", "db"}
    assert "series" not in body["sources"]["web"]
    assert body["sources"]["db"]["errors_total"] == 1


async def test_healthz_ok_and_503_with_reason(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.get("/healthz")
    assert (response.status, await response.json()) == (200, {"status": "ok"})
    sick = await client_for(aiohttp_client, store, problem="poller threads stopped for sources: web")
    response = await sick.get("/healthz")
    assert response.status == 503
    assert (await response.json())["reason"] == "poller threads stopped for sources: web"


async def test_index_links_every_endpoint(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.get("/")
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    for path in ("/metrics", "/api/v1/snapshot", "/api/v1/sources", "/healthz"):
        assert f'href="{path}"' in page


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_methods_other_than_get_and_head_get_405_json(aiohttp_client, store, method) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.request(method, "/metrics")
    assert response.status == 405
    assert response.content_type == "application/json"
    assert "GET" in response.headers["Allow"]
    assert (await response.json())["status"] == 405


async def test_unknown_paths_get_404_json(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    response = await client.get("/metricz")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert "/metricz" in (await response.json())["error"]


@pytest.mark.parametrize("path", ["/", "/metrics", "/api/v1/snapshot", "/api/v1/sources", "/nowhere"])
async def test_bearer_token_is_required_everywhere_but_healthz(aiohttp_client, store, path) -> None:
    client = await client_for(aiohttp_client, store, bearer_token="s3cret-token")
    missing = await client.get(path)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="monitor"'
    assert (await missing.json())["error"] == "authentication required"
    wrong = await client.get(path, headers={"Authorization": "Bearer s3cret-tokex"})
    assert wrong.status == 401
    right = await client.get(path, headers={"Authorization": "Bearer s3cret-token"})
    assert right.status == (404 if path == "/nowhere" else 200)
    assert (await client.get("/healthz")).status == 200


async def test_basic_auth(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store, basic_auth={"username": "prom", "password": "pässword"})
    missing = await client.get("/metrics")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Basic realm="monitor"'
    wrong = await client.get("/metrics", headers=basic("prom", "password"))
    assert wrong.status == 401
    other_user = await client.get("/metrics", headers=basic("root", "pässword"))
    assert other_user.status == 401
    garbage = await client.get("/metrics", headers={"Authorization": "Basic !!!not-base64"})
    assert garbage.status == 401
    right = await client.get("/metrics", headers=basic("prom", "pässword"))
    assert right.status == 200


async def test_json_views_follow_every_publish(aiohttp_client, store) -> None:
    client = await client_for(aiohttp_client, store)
    first = await (await client.get("/api/v1/snapshot")).json()
    assert first == await (await client.get("/api/v1/snapshot")).json()
    store.publish("web", healthy(series=1), {("temp_celsius", (("room", "lab"),)): 23.0})
    body = await (await client.get("/api/v1/snapshot")).json()
    assert body["version"] > first["version"]
    assert body["sources"]["web"]["series"] == [
        {"name": "temp_celsius", "labels": {"room": "lab"}, "value": 23.0}
    ]
    assert (await (await client.get("/api/v1/sources")).json())["version"] == body["version"]
