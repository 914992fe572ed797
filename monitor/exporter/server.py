"""Runs the exporter's aiohttp app on its own thread and event loop.

A busy dashboard (or a slow collector) never delays a scrape because nothing else runs on
this loop. start() returns once the socket listens, or raises ExporterStartError naming the
address, so `monitor --headless` can exit non-zero before any poller starts.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import ssl
import threading
from collections.abc import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import BadHttpMessage

from monitor.config import ExporterSettings, TlsSettings, parse_listen
from monitor.exporter.alerts import AlertsSource, AlertStateCollector
from monitor.exporter.app import HealthCheck, make_app
from monitor.exporter.auth import Authenticator
from monitor.exporter.limits import AcceptErrorLog, raise_open_files_limit
from monitor.exporter.render import MetricsRenderer, process_registry
from monitor.model import Snapshot
from monitor.wording import plural

log = logging.getLogger(__name__)


class ClientFaults(logging.Filter):
    """What a client does wrong is not the exporter's fault: aiohttp logged each at ERROR with
    a traceback, before auth, so any client could fill the log and bury real warnings. Such
    records are logged in one line at debug; anything else goes through as aiohttp logs it.

    - A request aiohttp cannot parse (a header over 8 KiB, too many headers, a garbled line):
      answered with 400, 9 lines at ERROR.
    - A client that closes its connection before its answer is written (a request sent and
      the socket closed, a scrape given up): 25 lines at ERROR. Nothing in a handler makes a
      connection of its own, so a ConnectionResetError there is the client's."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, BadHttpMessage):
            what = "malformed request answered with 400"
        elif isinstance(error, ConnectionResetError):
            what = "the client closed the connection before its answer was written"
        else:
            return True
        if HTTP_SERVER_LOG.isEnabledFor(logging.DEBUG):
            HTTP_SERVER_LOG.debug("%s: %s", what, error)
        return False


class RequestLog(AbstractAccessLogger):
    """At debug level, one line per request: is Prometheus scraping us at all, how often,
    does it get 401s, how long do the answers take. The path only, never the query string
    or headers, where a client may put a credential."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s from %s: %d, %s in %.1f ms",
            request.method,
            request.path,
            request.remote,
            response.status,
            plural(response.body_length, "byte"),
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


HTTP_SERVER_LOG = logging.getLogger("monitor.exporter.http")
HTTP_SERVER_LOG.addFilter(ClientFaults())
REQUEST_LOG = logging.getLogger("monitor.exporter.requests")

START_TIMEOUT = 10.0
SHUTDOWN_GRACE = 0.5
REQUEST_TIMEOUT = 10.0
"""Seconds a connection has to send a complete request line and headers, counted from when it
is accepted or its previous answer was sent; then it is closed. Without it a client sending
half a request (slowloris) held its connection for an hour, and enough of them used up every
file descriptor. aiohttp's keepalive_timeout is that bound from aiohttp 3.14.4 on (before, it
only limited the wait between two requests); an answer being written is not limited by it."""


class ExporterStartError(Exception):
    """The exporter could not start; the message names the address and what to do."""


def _ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (ssl.SSLError, OSError) as exc:
        raise ExporterStartError(
            f"cannot load TLS certificate {tls.cert_file} with key {tls.key_file}: {exc}"
        ) from None
    return context


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ExporterServer:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        settings: ExporterSettings,
        *,
        listen: str | None = None,
        health_check: HealthCheck = lambda: None,
        alerts: AlertsSource | None = None,
    ) -> None:
        self.settings = settings
        self.listen = listen or settings.listen
        self.host, self.port = parse_listen(self.listen)
        self.authenticator = Authenticator(settings)
        self.own_metrics = process_registry()
        """The exporter's own metrics; the runtime registers its reload gauges here."""
        self._app = make_app(
            snapshot,
            self.authenticator,
            health_check,
            MetricsRenderer(snapshot, own_metrics=self.own_metrics),
            alerts_source=alerts,
        )
        if alerts is not None:
            self.own_metrics.register(AlertStateCollector(alerts))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        ssl_context = _ssl_context(self.settings.tls) if self.settings.tls else None
        raise_open_files_limit()
        if not self.authenticator.enabled and not _is_loopback(self.host):
            log.warning(
                "the exporter listens on %s without authentication: anyone who can reach it can "
                "read every metric; set exporter.bearer_token or exporter.basic_auth",
                self.listen,
            )
        self._thread = threading.Thread(target=self._serve, args=(ssl_context,), name="exporter", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT):
            raise ExporterStartError(f"the exporter did not start listening on {self.listen} in time")
        if self._start_error is not None:
            self._thread.join()
            raise ExporterStartError(self._describe(self._start_error)) from None
        log.info("exporter listening on %s/metrics", self.url)

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            return (
                f"cannot listen on {self.listen}: port {self.port} is already in use; stop the other "
                f"program or choose another address with --listen or exporter.listen"
            )
        return f"cannot listen on {self.listen} (port {self.port}): {error}"

    def _serve(self, ssl_context: ssl.SSLContext | None) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open(ssl_context))
        except Exception as exc:  # noqa: BLE001 - start() raises it in the caller
            self._start_error = exc
            self._started.set()
            loop.close()
            return
        loop.set_exception_handler(AcceptErrorLog(self.port, self._open_connections))
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self, ssl_context: ssl.SSLContext | None) -> None:
        runner = web.AppRunner(
            self._app,
            access_log=REQUEST_LOG,
            access_log_class=RequestLog,
            shutdown_timeout=SHUTDOWN_GRACE,
            logger=HTTP_SERVER_LOG,
            keepalive_timeout=REQUEST_TIMEOUT,
        )
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port, ssl_context=ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]  # the real port when the config asked for port 0

    def _open_connections(self) -> int:
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self, timeout: float = 1.0) -> bool:
        """Close the socket and join the thread; return False if it had to be abandoned."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or not thread.is_alive():
            return True
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the exporter thread did not stop within %.1fs; exiting without it", timeout)
            return False
        return True
