"""HTTP for the network collectors: one event loop and one aiohttp ClientSession per source.

Collectors are called synchronously from their poller thread while aiohttp is async, so each
HTTP-speaking collector owns a private event loop on that thread and runs every poll to
completion on it. Keeping the loop and session for the collector's lifetime reuses
keep-alive connections and TLS sessions across polls, and no loop is ever shared between
threads. Every request, body included, is bounded by the poll's remaining time and by a
size cap, so a hung, slow or huge server costs one source its poll and nothing more.

Credentials (`bearer_token`, `basic_auth`, `user:password@` in the URL) and the configured
`headers` are sent only to the configured URL's origin (scheme, host and port). aiohttp
cannot be told so: it puts a session's `auth` back on every request of a redirect chain,
whatever the host, and keeps every header but Authorization and Cookie. So the session
carries none of them, and `fetch` follows redirects itself, adding them to each request that
goes to the configured origin and to no other.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import socket
import ssl
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationInfo, field_validator
from yarl import URL

from monitor import __version__
from monitor.plugin import CollectContext, CollectError, CollectorOptions

T = TypeVar("T")

USER_AGENT = f"monitor/{__version__}"
DEFAULT_MAX_RESPONSE = 10 * 1024 * 1024
CHUNK = 64 * 1024
STOP_CHECK = 0.25
"""How often an in-flight request looks at the shutdown flag, so quitting never waits for a
slow server's full timeout."""
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: str = Field(description="Use ${ENV}; monitor redacts it from every error.")


HTTP_URL_SCHEMA = {"pattern": r"^(?:[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+|.*\$\{)"}
"""check_http_url for editors (`monitor schema`): http(s) and a host; a value with `${VAR}`
in it is only known once the environment fills it in."""


def check_http_url(value: str) -> str:
    url = URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
    return value


@functools.lru_cache(maxsize=32)
def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """One context per CA file for the whole process: building one loads the CA store, about
    20 ms of CPU (far more on a busy machine), too much to pay per source. Contexts are safe
    to share between threads and event loops."""
    return ssl.create_default_context(cafile=ca_file)


def check_file(value: str | None) -> str | None:
    """Config paths are checked when the config is, relative to monitor's working directory."""
    if value is not None and not Path(value).is_file():
        raise ValueError(f"no such file: {value!r}")
    return value


class HttpClientOptions(CollectorOptions):
    """Options every HTTP-based collector shares (http, prometheus, promql)."""

    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers, sent to the configured origin only; values may use ${ENV}.",
    )
    bearer_token: str | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <token>'; write it as ${ENV}."
    )
    basic_auth: BasicAuth | None = Field(
        default=None, description="HTTP basic auth: {username, password}; write the password as ${ENV}."
    )
    tls_verify: bool = Field(default=True, description="Verify the server's certificate and host name.")
    ca_file: str | None = Field(
        default=None, description="PEM file of CA certificates to trust instead of the system's."
    )
    follow_redirects: bool = Field(
        default=True,
        description="Follow 3xx redirects (at most 10); credentials and headers stay with the configured origin.",
    )
    max_response_size: ByteSize = Field(
        default=ByteSize(DEFAULT_MAX_RESPONSE),
        description="Bigger responses fail the poll unread past this size (e.g. 512KiB, 10MiB).",
    )

    @field_validator("bearer_token")
    @classmethod
    def _one_authorization_header(cls, value: str | None, info: ValidationInfo) -> str | None:
        """`headers` comes first, so it is validated by now. The two would send two
        Authorization headers (`authorization:` in headers) or one would silently replace the other."""
        if value is not None and _sets_authorization(info.data.get("headers")):
            raise ValueError("set either bearer_token or an Authorization header in headers, not both")
        return value

    @field_validator("basic_auth")
    @classmethod
    def _one_auth(cls, value: BasicAuth | None, info: ValidationInfo) -> BasicAuth | None:
        """At the `basic_auth` key rather than in a model validator, which pydantic runs only
        when every field is valid: one typo elsewhere would hide this problem until it was fixed.
        aiohttp refuses basic auth beside an Authorization header at every request."""
        if value is not None and info.data.get("bearer_token") is not None:
            raise ValueError("set either bearer_token or basic_auth, not both")
        if value is not None and _sets_authorization(info.data.get("headers")):
            raise ValueError("set either basic_auth or an Authorization header in headers, not both")
        return value

    @field_validator("url", check_fields=False)
    @classmethod
    def _one_credential_with_url(cls, value: str, info: ValidationInfo) -> str:
        """Credentials written in the URL (`https://user:password@host/`) are sent as basic
        auth. With bearer_token or an Authorization header, aiohttp refuses every request
        ("Cannot combine AUTHORIZATION header with ... credentials encoded in URL"), and
        basic_auth would be silently ignored for the URL's: `monitor check` says so at the
        `url` key instead, which each collector declares after the keys above. The URL is not
        quoted: its credentials may be a secret."""
        try:
            url = URL(value)
        except ValueError:
            return value  # the collector's own URL check says what is wrong
        if (url.user is None and url.password is None) or url.scheme not in ("http", "https"):
            return value  # no credentials, or a URL the collector's own check refuses first
        data = info.data
        other = (
            "bearer_token"
            if data.get("bearer_token") is not None
            else "basic_auth"
            if data.get("basic_auth") is not None
            else "an Authorization header in headers"
            if _sets_authorization(data.get("headers"))
            else None
        )
        if other is not None:
            raise ValueError(
                f"the URL carries credentials (user:password@), which are sent as basic auth: "
                f"set either those or {other}, not both"
            )
        return value

    @field_validator("ca_file")
    @classmethod
    def _existing_ca_file(cls, value: str | None) -> str | None:
        return check_file(value)

    @field_validator("max_response_size")
    @classmethod
    def _positive_size(cls, value: ByteSize) -> ByteSize:
        if value <= 0:
            raise ValueError("max_response_size must be positive")
        return value


def _sets_authorization(headers: object) -> bool:
    """Whether `headers` has an Authorization header, in any case (HTTP names are not
    case-sensitive: `authorization:` beside bearer_token would send two)."""
    return isinstance(headers, Mapping) and any(
        isinstance(name, str) and name.lower() == "authorization" for name in headers
    )


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str
    elapsed: float
    redirects: int


def display_url(url: str) -> str:
    """The URL as errors show it: without user:password, which may be literal credentials."""
    return str(URL(url).with_user(None))


Origin = tuple[str, str | None, int | None]


def origin_of(url: URL) -> Origin:
    """Scheme, host and port, the port filled in for the scheme (`http://a` is `http://a:80`)."""
    return url.scheme, url.host, url.port


def basic_authorization(username: str, password: str) -> str:
    """The Authorization value for basic auth: latin-1, as aiohttp and requests encode it, or
    UTF-8 (RFC 7617's charset) for a name or password latin-1 cannot write."""
    credentials = f"{username}:{password}"
    try:
        raw = credentials.encode("latin-1")
    except UnicodeEncodeError:
        raw = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Target:
    """A URL as fetched: without its user:password, the origin its credentials belong to,
    and the headers only that origin is sent (configured headers and the credential)."""

    url: URL
    origin: Origin
    own_headers: Mapping[str, str]


class HttpClient:
    """Open in `Collector.setup()`, close in `Collector.close()`; both run in the poller thread."""

    def __init__(self, options: HttpClientOptions) -> None:
        self.options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[str, _Target] = {}

    def open(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._session = self._loop.run_until_complete(self._new_session())

    async def _new_session(self) -> aiohttp.ClientSession:
        """No credentials or configured headers here: see the module's docstring."""
        options = self.options
        # True: aiohttp's own verifying context, built once when aiohttp is imported.
        tls: ssl.SSLContext | bool = options.tls_verify
        if options.tls_verify and options.ca_file:
            tls = verifying_context(options.ca_file)
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls, limit=8),
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=None),
        )

    def _target(self, url: str) -> _Target:
        """Worked out once per URL (a collector fetches one or two)."""
        target = self._targets.get(url)
        if target is None:
            options = self.options
            parsed = URL(url)
            own = dict(options.headers)
            if options.bearer_token is not None:
                own["Authorization"] = f"Bearer {options.bearer_token}"
            elif options.basic_auth is not None:
                own["Authorization"] = basic_authorization(
                    options.basic_auth.username, options.basic_auth.password
                )
            elif parsed.user is not None or parsed.password is not None:
                own["Authorization"] = basic_authorization(parsed.user or "", parsed.password or "")
            bare = parsed.with_user(None)
            target = self._targets[url] = _Target(bare, origin_of(bare), own)
        return target

    def close(self) -> None:
        if self._loop is None:
            return
        if self._session is not None:
            self._loop.run_until_complete(self._session.close())
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.run_until_complete(self._loop.shutdown_default_executor())  # DNS resolver threads
        self._loop.close()
        self._loop = self._session = None

    def request(self, ctx: CollectContext, url: str, **options: Any) -> HttpResponse:
        """One `fetch`, bounded by what is left of the poll's timeout."""
        return self.run(ctx, self.fetch(url, **options))

    def run(self, ctx: CollectContext, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on this client's loop until done, the timeout, or shutdown."""
        assert self._loop is not None, "HttpClient.open() was not called"
        return self._loop.run_until_complete(self._bounded(ctx, work))

    async def _bounded(self, ctx: CollectContext, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.create_task(work)
        try:
            while True:
                budget = ctx.remaining()
                if budget <= 0 or ctx.stopping:
                    reason = "shutting down" if ctx.stopping else f"no response within {ctx.timeout:g}s"
                    raise CollectError(f"{reason} (the source's timeout bounds the whole poll)")
                done, _ = await asyncio.wait({task}, timeout=min(budget, STOP_CHECK))
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Fetch and read the whole body up to `max_response_size`; errors become CollectError.

        Redirects are followed here, not by aiohttp, so that credentials and configured
        headers go only to the configured origin (see the module's docstring). What aiohttp
        did is kept: at most 10, 303 (and 301/302 after a POST) turn into a GET without body,
        `params` go with the first request only."""
        assert self._session is not None, "HttpClient.open() was not called"
        target = self._target(url)
        started = time.perf_counter()
        current = target.url
        redirects = 0
        try:
            while True:
                to_origin = origin_of(current) == target.origin
                async with self._session.request(
                    method,
                    current,
                    headers=_merged(target.own_headers, headers) if to_origin else headers,
                    data=data,
                    params=params,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    location = (
                        response.headers.get("Location")
                        if status in REDIRECT_STATUSES and self.options.follow_redirects
                        else None
                    )
                    if location is None:
                        body = await self._read_capped(response, url)
                        return HttpResponse(
                            status, body, response.content_type, time.perf_counter() - started, redirects
                        )
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise CollectError(f"{display_url(url)}: more than {MAX_REDIRECTS} redirects")
                current = _redirected(url, current, location)
                if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                    method, data = "GET", None
                params = None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CollectError(
                f"{display_url(url)}: TLS certificate not trusted: {exc.certificate_error}"
            ) from None
        except aiohttp.ClientPayloadError:
            raise CollectError(f"{display_url(url)}: the response body was cut short") from None
        except aiohttp.ClientError as exc:
            raise CollectError(f"{display_url(url)}: {_describe(exc)}") from None

    async def _read_capped(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        cap = int(self.options.max_response_size)
        too_big = f"{display_url(url)}: response larger than max_response_size ({cap} bytes); not read"
        if response.content_length is not None and response.content_length > cap:
            raise CollectError(f"{too_big} (Content-Length {response.content_length})")
        body = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > cap:
                raise CollectError(too_big)
        return bytes(body)


def _merged(own: Mapping[str, str], headers: Mapping[str, str] | None) -> Mapping[str, str]:
    """The configured headers and credential, with the collector's own (`Accept`) replacing
    any of the same name, in any case, as they replaced the session's."""
    if not headers:
        return own
    replaced = {name.lower() for name in headers}
    return {**{name: value for name, value in own.items() if name.lower() not in replaced}, **headers}


def _redirected(url: str, current: URL, location: str) -> URL:
    """Where a redirect's Location leads from `current`, relative or not. A user:password in
    it is dropped: the server does not choose what credentials monitor sends."""
    try:
        target = current.join(URL(location))
    except ValueError:
        raise CollectError(f"{display_url(url)}: redirected to an invalid URL") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise CollectError(f"{display_url(url)}: redirected to a URL that is not http(s) with a host")
    return target.with_user(None).with_fragment(None)


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {_os_error_text(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    return str(exc) or type(exc).__name__


def _os_error_text(error: OSError) -> str:
    """What the system calls the error, as the tcp collector writes it: `Connection refused`,
    `No route to host`. asyncio replaces a failed connect's strerror with `Connect call failed
    ('127.0.0.1', 9)`, which reads the same for a closed port, an unreachable host and a
    reset; its errno still tells them apart. A resolver's or TLS error numbers its own codes,
    not errno's: those keep their own text."""
    if (
        error.errno
        and error.errno > 0
        and not isinstance(error, (socket.gaierror, socket.herror, ssl.SSLError))
    ):
        return os.strerror(error.errno)
    return error.strerror or str(error) or type(error).__name__
