"""What keeps the exporter serving when clients hold many connections open.

A process under systemd starts with a soft limit of 1,024 open files: 1,100 connections that
never finish their request were enough to make every scrape fail, and then asyncio logged a
traceback for every failed accept(), thousands a second (CPython's accept loop retries up to
the backlog each time the socket is readable, python/cpython#151615): 43 MB of stderr in 25 s.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from typing import Any

from monitor.wording import plural

try:
    import resource
except ImportError:  # not on Windows, which has no such limit to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

ACCEPT_ERROR_LOG_INTERVAL = 60.0
"""Seconds between two log lines about failed accepts; the failures in between are counted."""
ACCEPT_OUT_OF_RESOURCE = "socket.accept() out of system resource"
"""The message asyncio's selector loop gives the exception handler for such a failure."""
RETRY_ON_CLOSED_SOCKET = "._start_serving("
"""In the message asyncio gives an exception from its accept retry (a TimerHandle's repr)."""
OUT_OF_RESOURCE = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

_open_files_limit_raised = False


def open_files_limit() -> int | None:
    """The process's soft RLIMIT_NOFILE, or None where there is none."""
    if resource is None:
        return None
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard limit, once per process.

    The soft limit of 1,024 exists for programs using select(), which cannot watch a file
    descriptor above 1,023; monitor uses none (asyncio and the command collector use epoll),
    so, as Go's runtime does for every Go program (Prometheus and node_exporter among them),
    it takes what the hard limit allows (systemd's default: 524,288)."""
    global _open_files_limit_raised
    if _open_files_limit_raised or resource is None:
        return
    _open_files_limit_raised = True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        # macOS gives an unlimited hard limit that no soft limit may reach; leave it be.
        log.debug("open files limit: %s (hard limit %s)", soft, hard)
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        log.debug("could not raise the open files limit from %d to %d: %s", soft, hard, exc)
        return
    log.debug("raised the open files limit from %d to %d (the hard limit)", soft, hard)


class AcceptErrorLog:
    """The exporter loop's exception handler: failed accepts are logged once, in one line
    saying what to do, then at most once a minute with how often accept() failed meanwhile.
    Any other error goes to asyncio's default handler, logged as before."""

    def __init__(self, port: int, open_connections: Callable[[], int]) -> None:
        self.port = port
        self.open_connections = open_connections
        self.interval = ACCEPT_ERROR_LOG_INTERVAL
        self._suppressed = 0
        self._quiet_until: asyncio.TimerHandle | None = None
        self._retries_dropped = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, ValueError) and RETRY_ON_CLOSED_SOCKET in context.get("message", ""):
            self._drop_retry(error)
        elif (
            context.get("message") == ACCEPT_OUT_OF_RESOURCE
            and isinstance(error, OSError)
            and error.errno in OUT_OF_RESOURCE
        ):
            self._failed_accept(loop, error)
        else:
            loop.default_exception_handler(context)

    def _drop_retry(self, error: ValueError) -> None:
        """asyncio schedules a retry a second after every failed accept() call, up to 128 a
        time (python/cpython#151615); retries still due when the exporter stops find the
        socket closed and raise ValueError, which was logged as a 20-line ERROR each."""
        self._retries_dropped += 1
        if self._retries_dropped == 1:
            log.debug("dropped the accept() retries due after the listening socket closed: %s", error)

    def _failed_accept(self, loop: asyncio.AbstractEventLoop, error: OSError) -> None:
        if self._quiet_until is not None:
            self._suppressed += 1
            return
        log.warning(
            "the exporter cannot accept connections: %s; scrapes fail until connections close. %s "
            "(further failures are counted and logged every %g s)",
            self._reason(error),
            self._advice(error),
            self.interval,
        )
        self._quiet_until = loop.call_later(self.interval, self._end_quiet_period, loop, error)

    def _end_quiet_period(self, loop: asyncio.AbstractEventLoop, error: OSError) -> None:
        if not self._suppressed:
            self._quiet_until = None  # the next failure is logged in full again
            return
        # Counted now, not at the first failure: connections accepted in the same tick as it
        # are not registered yet then.
        log.warning(
            "the exporter still cannot accept every connection: accept() failed %s in the last %g s "
            "(%s; %s to the exporter open)",
            plural(self._suppressed, "more time"),
            self.interval,
            self._reason(error),
            plural(self.open_connections(), "connection"),
        )
        self._suppressed = 0
        self._quiet_until = loop.call_later(self.interval, self._end_quiet_period, loop, error)

    def _reason(self, error: OSError) -> str:
        if error.errno == errno.EMFILE:
            return f"the process has reached its limit of {open_files_limit()} open files"
        if error.errno == errno.ENFILE:
            return "the system's open-file table is full (fs.file-max)"
        return f"out of memory for sockets ({error.strerror})"

    def _advice(self, error: OSError) -> str:
        holders = f"find what holds connections to port {self.port} open: ss -tn 'sport = :{self.port}'"
        if error.errno == errno.EMFILE:
            return f"Raise the limit (LimitNOFILE= in the systemd unit, ulimit -n in a shell) or {holders}"
        return holders[0].upper() + holders[1:]
