"""Who gets in and what gets out, against the real `monitor --headless`: auth on every
endpoint, oversized requests, path traversal, escaping of hostile label values, no shell."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO
from tests.faults.harness import MonitorProcess, http_get, promtool_problems, wait_for
from tests.faults.servers import fault_server

TOKEN = "s3cret-Token-0123456789"
PROTECTED = ("/", "/metrics", "/api/v1/snapshot", "/api/v1/sources")
HOSTILE = 'q"uo\\te\nnew\tline\x01\x7f ✓'


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonitorProcess]:
    config = tmp_path_factory.mktemp("auth") / "config.yaml"
    config.write_text(
        "exporter: {bearer_token: '${MONITOR_TOKEN}'}\n"
        "sources:\n  - {name: one, collector: command, argv: [echo, '1'], interval: 500ms}\n"
    )
    with MonitorProcess(config, env={"MONITOR_TOKEN": TOKEN}) as monitor:
        yield monitor


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        bearer(TOKEN[:-1] + "X"),  # differs in the last character only
        bearer(TOKEN + "X"),
        bearer(TOKEN[:-1]),
        bearer(""),
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        basic("monitor", TOKEN),
    ],
    ids=["none", "wrong", "last-char", "longer", "shorter", "empty", "no-scheme", "basic-scheme", "as-basic"],
)
def test_bearer_token_required_on_every_endpoint(guarded: MonitorProcess, path: str, headers: dict) -> None:
    status, body = http_get(f"{guarded.url}{path}", headers=headers)
    assert status == 401, body
    assert TOKEN.encode() not in body and b"command_value" not in body


@pytest.mark.parametrize("path", PROTECTED)
def test_the_right_token_gets_in(guarded: MonitorProcess, path: str) -> None:
    status, _ = http_get(f"{guarded.url}{path}", headers=bearer(TOKEN))
    assert status == 200


def test_healthz_stays_open_and_tells_nothing(guarded: MonitorProcess) -> None:
    status, body = http_get(f"{guarded.url}/healthz")
    assert status == 200 and body == b'{"status": "ok"}'


def test_basic_auth_rejects_a_wrong_password(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "exporter: {basic_auth: {username: prom, password: '${MONITOR_PASSWORD}'}}\n"
        "sources:\n  - {name: one, collector: command, argv: [echo, '1']}\n"
    )
    with MonitorProcess(config, env={"MONITOR_PASSWORD": "hunter22"}) as monitor:
        for headers in (basic("prom", "hunter2"), basic("prom", "hunter23"), basic("Prom", "hunter22"), {}):
            for path in PROTECTED:
                assert http_get(f"{monitor.url}{path}", headers=headers)[0] == 401, (headers, path)
        assert http_get(f"{monitor.url}/metrics", headers=basic("prom", "hunter22"))[0] == 200


def raw_request(port: int, request: bytes) -> bytes:
    """Send bytes as they are (no client normalising the path) and read the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096).split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/metrics/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/static/../../etc/passwd",
        "//etc/passwd",
        "/api/v1/../../../etc/passwd",
        "/api/v1/..%5c..%5cetc%5cpasswd",
    ],
)
def test_path_traversal_is_404(guarded: MonitorProcess, path: str) -> None:
    status = raw_request(
        guarded.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    )
    assert status.startswith(b"HTTP/1.1 404") or status.startswith(b"HTTP/1.1 400"), status


def test_oversized_requests_are_rejected_and_the_server_carries_on(guarded: MonitorProcess) -> None:
    huge_header = f"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 100_000}\r\n\r\n".encode()
    assert re.match(rb"HTTP/1\.[01] (400|413|431)", raw_request(guarded.port, huge_header))
    long_url = f"GET /metrics?{'a' * 100_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert re.match(rb"HTTP/1\.[01] (400|414)", raw_request(guarded.port, long_url))
    many_headers = "".join(f"X-{i}: v\r\n" for i in range(5000))
    assert re.match(
        rb"HTTP/1\.[01] (400|431)",
        raw_request(guarded.port, f"GET /metrics HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n".encode()),
    )
    connection = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=5)
    connection.request("POST", "/metrics", body=b"x" * (20 * 1024 * 1024), headers=bearer(TOKEN))
    assert connection.getresponse().status in (405, 413)
    connection.close()
    assert http_get(f"{guarded.url}/metrics", headers=bearer(TOKEN))[0] == 200


def test_hostile_label_values_are_escaped(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    with fault_server() as server:
        config.write_text(
            "sources:\n"
            f'  - {{name: chaos, collector: prometheus, url: "{server.url}/chaos", interval: 500ms,'
            f" labels: {{note: {_yaml_string(HOSTILE)}}}}}\n"
        )
        with MonitorProcess(config) as monitor:
            wait_for(lambda: b"chaos{" in monitor.metrics(), 15, "the chaos series")
            text = monitor.metrics()
    assert promtool_problems(text) == ""
    values = {
        sample.labels["what"]: sample.labels["note"]
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == "chaos"
    }
    assert set(values) == {'say "hi"', "back\\slash", "two\nlines", "bell\x07tab\tnul\x01", "ünïcødé ✓"}
    assert set(values.values()) == {HOSTILE}
    for line in text.decode().splitlines():  # one sample per line: no raw newline got through
        assert line.startswith("#") or re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$", line), line


def _yaml_string(value: str) -> str:
    """A double-quoted YAML scalar for any string (json.dumps output is valid YAML)."""
    return json.dumps(value)


def test_the_command_collector_never_runs_a_shell(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n"
        f"  - {{name: injected, collector: command, argv: ['echo 1; touch {target}'], interval: 300ms}}\n"
        f"  - {{name: argument, collector: command, argv: [echo, '$(touch {target})', '`touch {target}`']}}\n"
    )
    with MonitorProcess(config) as monitor:
        down = wait_for(
            lambda: (h := monitor.sources()["injected"])["last_error"] and h,
            15,
            "the injected source failing",
        )
        argument = wait_for(lambda: (h := monitor.sources()["argument"])["collections"] and h, 15, "a poll")
    assert "No such file" in down["last_error"] or "not found" in down["last_error"], down
    assert not target.exists()
    assert argument["last_error"] is not None  # echo printed the text, literally: not a number
    assert "$(touch" in argument["last_error"] or "lines" in argument["last_error"]


def test_a_shell_option_is_a_config_error(write_config) -> None:
    config = write_config("sources:\n  - {name: a, collector: command, argv: [ls], shell: true}\n")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 2 and f"{config}:2:" in result.stderr and "shell" in result.stderr


def test_an_alias_bomb_is_a_prompt_config_error(write_config) -> None:
    """Nine levels of ten aliases ("billion laughs") would take hours and all the memory to
    expand; `monitor check` (like start and reload) refuses it without expanding it."""
    lines = ["lol0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"lol{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, 10)]
    config = write_config("sources:\n  - {name: a, collector: system}\n" + "\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=20,  # generous: it takes well under a second; a regression fails here instead of hanging
    )
    assert result.returncode == 2, result.stderr
    assert f"{config}:7:" in result.stderr, result.stderr
    assert "aliases expand this config to more than 100,000 values" in result.stderr


def test_yaml_is_only_ever_loaded_safely() -> None:
    """No code path can construct Python objects from a config file."""
    unsafe = re.compile(r"yaml\.(unsafe_load|full_load|load\(|Loader\b|FullLoader|UnsafeLoader)")
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("monitor", "collectors")
        for path in (REPO / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if unsafe.search(line)
    ]
    assert offenders == []
