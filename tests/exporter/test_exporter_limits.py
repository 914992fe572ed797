"""Clients holding many connections: the open files limit, the log when accept() fails, and
connections that never finish their request (slowloris)."""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import re
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporter_support import get, headless

from monitor.config import ExporterSettings
from monitor.exporter import ExporterServer, server
from monitor.exporter.limits import AcceptErrorLog
from monitor.store import MetricsStore
from tests.conftest import cannot_run, free_port

SIMPLE = "interval: 1s\nsources:\n  - name: local\n    collector: system\n"
OPEN_FILES = 64
"""The limit the exhaustion tests run under: monitor --headless holds about 10 files, so
CONNECTIONS (more than the limit, fewer than the limit plus the listen backlog of 128) are
enough to use up the rest and leave some waiting in the backlog."""
CONNECTIONS = 120
PARTIAL_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def open_files_limits(pid: int) -> tuple[int, int]:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if "open files" in line)
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc/PID/limits (Linux)")
def test_headless_raises_its_open_files_limit_to_the_hard_limit(write_config) -> None:
    """A systemd service starts with a soft limit of 1,024 open files; Go programs such as
    Prometheus and node_exporter raise it to the hard limit, and so does monitor."""
    hard = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 4096)
    if hard <= 256:
        cannot_run(f"the hard limit on open files is {hard}: nothing to raise 256 to")
    port = free_port()
    with headless(write_config(SIMPLE), port, open_files=(256, hard)) as process:
        assert open_files_limits(process.pid) == (hard, hard)


@contextlib.contextmanager
def half_open_requests(port: int, count: int) -> Iterator[list[socket.socket]]:
    """Up to `count` connections that send half a request and wait (fewer if the listen backlog
    fills up and a connect times out); all closed on exit."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
            except OSError:
                break
            sockets.append(sock)
            sock.sendall(PARTIAL_REQUEST)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def wait_for_scrape(port: int, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            if get(f"http://127.0.0.1:{port}/metrics", timeout=1.0)[0] == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"/metrics did not answer within {deadline}s once the connections closed")


def test_running_out_of_files_logs_one_line_not_a_traceback_per_accept(write_config, tmp_path) -> None:
    """Under `prlimit --nofile=1024`, 1,100 connections left half-open made asyncio log 96,708
    tracebacks in 25 s (43 MB). Now: one warning, and scrapes work again once they close."""
    port = free_port()
    log_file = tmp_path / "stderr.log"
    with (
        log_file.open("w") as stderr,
        headless(write_config(SIMPLE), port, open_files=(OPEN_FILES, OPEN_FILES), stderr=stderr),
    ):
        with half_open_requests(port, CONNECTIONS) as sockets:
            assert len(sockets) > OPEN_FILES
            time.sleep(2.0)  # thousands of failed accepts, unpatched
        wait_for_scrape(port)
    log = log_file.read_text()
    assert "Traceback" not in log and "socket.accept()" not in log
    warnings = [line for line in log.splitlines() if "cannot accept connections" in line]
    assert len(warnings) == 1, log[:3000]
    assert " WARNING " in warnings[0]
    assert f"the process has reached its limit of {OPEN_FILES} open files;" in warnings[0]
    assert "LimitNOFILE=" in warnings[0] and f"ss -tn 'sport = :{port}'" in warnings[0]
    assert len(log.splitlines()) < 15, log[:3000]


ACCEPT_LOG_CHILD = """
import logging, resource, sys
from monitor.config import ExporterSettings
from monitor.exporter import ExporterServer, limits
from monitor.store import MetricsStore

limits.ACCEPT_ERROR_LOG_INTERVAL = 1.0
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), int(sys.argv[2])))
logging.basicConfig(level=logging.INFO, format="%(created)f %(levelname)s %(message)s")
server = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=sys.argv[1]))
server.start()
print("listening", flush=True)
sys.stdin.read()
server.stop()
"""


def test_failed_accepts_are_counted_and_logged_once_per_interval(tmp_path) -> None:
    """After the first warning, one line per interval (a minute; a second here) says how often
    accept() failed meanwhile."""
    port = free_port()
    log_file = tmp_path / "stderr.log"
    with log_file.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", ACCEPT_LOG_CHILD, f"127.0.0.1:{port}", str(OPEN_FILES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert child.stdout.readline() == "listening\n"
            with half_open_requests(port, CONNECTIONS) as sockets:
                assert len(sockets) > OPEN_FILES
                time.sleep(3.5)
            wait_for_scrape(port)
            child.stdin.close()
            assert child.wait(10) == 0
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    log = log_file.read_text()
    assert "Traceback" not in log
    lines = [line.split(" ", 2) for line in log.splitlines() if "accept" in line]
    assert [level for _, level, _ in lines] == ["WARNING"] * len(lines)
    first, *summaries = lines
    assert first[2].startswith("the exporter cannot accept connections: the process has reached its limit")
    assert len(summaries) >= 2, log
    for _, _, message in summaries:
        match = re.fullmatch(
            r"the exporter still cannot accept every connection: accept\(\) failed (\d+) more times? "
            rf"in the last 1 s \(the process has reached its limit of {OPEN_FILES} open files; "
            r"(\d+) connections? to the exporter open\)",
            message,
        )
        assert match and int(match[1]) > 0, message
    held = int(re.search(r"(\d+) connections? to the exporter open", summaries[0][2])[1])
    assert OPEN_FILES - 20 < held < OPEN_FILES, summaries[0]
    times = [float(created) for created, _, _ in lines]  # the rate limit itself:
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(times)), times


def test_the_accept_failure_summary_counts_in_words(caplog) -> None:
    """One more failure and one connection open: `failed 1 more time`, `1 connection`, not
    `1 more times` and `1 connections`."""

    class Loop:
        def call_later(self, *_args: object) -> None:
            return None

    accept_errors = AcceptErrorLog(9100, lambda: 1)
    error = OSError(errno.EMFILE, "Too many open files")
    accept_errors._quiet_until = object()  # within the quiet period that follows the first failure
    accept_errors._failed_accept(Loop(), error)
    with caplog.at_level(logging.WARNING, "monitor.exporter.limits"):
        accept_errors._end_quiet_period(Loop(), error)
    [message] = [record.getMessage() for record in caplog.records]
    assert "accept() failed 1 more time in the last" in message
    assert "; 1 connection to the exporter open)" in message


def test_the_request_log_counts_bytes_in_words(caplog) -> None:
    """A one-byte answer is `1 byte` in the debug access log."""

    class Request:
        method, path, remote = "GET", "/x", "127.0.0.1"

    class Response:
        status, body_length = 200, 1

    with caplog.at_level(logging.DEBUG, "monitor.exporter.requests"):
        server.RequestLog(server.REQUEST_LOG, "").log(Request(), Response(), 0.002)
    assert [record.getMessage() for record in caplog.records] == [
        "GET /x from 127.0.0.1: 200, 1 byte in 2.0 ms"
    ]


RETRIES_CHILD = """
import asyncio, logging, resource, sys
from monitor.exporter.limits import AcceptErrorLog

resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(message)s")


async def main() -> None:
    loop = asyncio.get_running_loop()
    failed = asyncio.Event()
    accept_errors = AcceptErrorLog(int(sys.argv[1]), lambda: 0)

    def handle(loop, context):
        accept_errors(loop, context)
        failed.set()

    loop.set_exception_handler(handle)
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", int(sys.argv[1]))
    print("listening", flush=True)
    await failed.wait()
    server.close()  # asyncio retries accept() a second after the failure, on the closed socket
    await asyncio.sleep(1.5)


asyncio.run(main())
"""


def test_accept_retries_due_after_the_socket_closed_leave_no_traceback(tmp_path) -> None:
    """Stopping within a second of a failed accept logged each of asyncio's pending retries
    as a 20-line ERROR (ValueError: Invalid file descriptor: -1): 384 of them, once."""
    port = free_port()
    log_file = tmp_path / "stderr.log"
    with log_file.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", RETRIES_CHILD, str(port)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert child.stdout.readline() == "listening\n"
            with half_open_requests(port, 80):
                assert child.wait(10) == 0
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    lines = log_file.read_text().splitlines()
    assert "Traceback (most recent call last):" not in lines, "\n".join(lines[:40])
    assert [line.split(" ")[0] for line in lines if not line.startswith("DEBUG Using selector")] == [
        "WARNING",
        "DEBUG",
    ], lines
    assert lines[-1].startswith("DEBUG dropped the accept() retries due after the listening socket closed")


def closed_within(sock: socket.socket, deadline: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closed the connection (None if it did not within `deadline`),
    sending `trickle` every 0.2 s meanwhile, as a slowloris client does."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        try:
            if trickle:
                sock.sendall(trickle)
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable and sock.recv(4096) == b"":
                return time.monotonic() - start
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
    return None


@pytest.fixture
def exporter(monkeypatch) -> Iterator[int]:
    monkeypatch.setattr(server, "REQUEST_TIMEOUT", 1.0)
    port = free_port()
    exporter = ExporterServer(MetricsStore().snapshot, ExporterSettings(listen=f"127.0.0.1:{port}"))
    exporter.start()
    try:
        yield port
    finally:
        exporter.stop()


@pytest.mark.parametrize(
    ("sent", "trickle"),
    [(b"", b""), (PARTIAL_REQUEST, b""), (PARTIAL_REQUEST, b"X-Slow: 1\r\n")],
    ids=["nothing", "half-a-request", "header-lines-trickling-in"],
)
def test_a_connection_that_does_not_finish_its_request_in_time_is_closed(exporter, sent, trickle) -> None:
    """aiohttp has no header-read timeout of its own: such a connection stayed open for an
    hour (its keep-alive default), and enough of them used up every file descriptor."""
    with socket.create_connection(("127.0.0.1", exporter), timeout=5) as sock:
        sock.sendall(sent)
        elapsed = closed_within(sock, deadline=5.0, trickle=trickle)
    assert elapsed is not None, "still open after 5 s"
    assert 0.7 <= elapsed <= 3.0, elapsed


def test_requests_in_time_are_answered_and_an_idle_connection_closed_after_the_bound(exporter) -> None:
    with socket.create_connection(("127.0.0.1", exporter), timeout=5) as sock:
        for _ in range(2):  # one keep-alive connection, two requests
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while b'{"status": "ok"}' not in answer:
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 OK")
            time.sleep(0.5)  # idle, within the bound
        elapsed = closed_within(sock, deadline=5.0)
    assert elapsed is not None and elapsed <= 2.0, elapsed
