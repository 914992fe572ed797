"""How the HTTP-based collectors (http, prometheus, promql: all through collectors/httpclient)
word a failed connection: as the tcp collector does, by what the system calls it."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest

from collectors.http import HttpCollector
from collectors.httpclient import _os_error_text
from collectors.prometheus import PrometheusCollector
from collectors.promql import PromqlCollector
from monitor.plugin import CollectError
from tests.collectors.conftest import run_collector


@pytest.mark.parametrize(
    ("collector", "options"),
    [
        (HttpCollector, {"path": "/health"}),
        (PrometheusCollector, {"path": "/metrics"}),
        (PromqlCollector, {"path": "", "queries": {"fleet_up": "up"}}),
    ],
    ids=["http", "prometheus", "promql"],
)
def test_a_closed_port_is_connection_refused_as_tcp_says(collector, options, closed_port):
    """asyncio writes `Connect call failed ('127.0.0.1', 19499)` for a refused, an unreachable
    and a reset connection alike; the errno it keeps says which."""
    url = f"http://127.0.0.1:{closed_port}{options.pop('path')}"
    with pytest.raises(CollectError) as raised:
        run_collector(collector, {"url": url, **options})
    message = str(raised.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "cannot connect: Connection refused" in message
    assert "Connect call failed" not in message


def test_errors_numbered_by_the_resolver_or_tls_keep_their_own_text():
    """A gaierror's -2 and an SSLError's 1 are not errno values (os.strerror(1) is `Operation
    not permitted`); several same-errno failures (IPv6 and IPv4) read as their one errno."""
    assert _os_error_text(socket.gaierror(-2, "Name or service not known")) == "Name or service not known"
    assert _os_error_text(ssl.SSLError(1, "[SSL] record layer failure")) == "[SSL] record layer failure"
    unreachable = OSError(errno.EHOSTUNREACH, "Multiple exceptions: ...")
    assert _os_error_text(unreachable) == "No route to host"
    assert _os_error_text(OSError("Multiple exceptions: a, b")) == "Multiple exceptions: a, b"
