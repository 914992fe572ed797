"""Text from outside shown on a terminal: printable() itself, its log formatter, and `monitor
once` against a real loopback server that sends escape sequences (the dashboard's screens are
tested in tests/tui/test_dashboard_printable.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.printable import PrintableFormatter, printable
from tests.tui.test_dashboard_printable import HOSTILE, SHOWN, hostile_server

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;PWNED-TITLE\x1b[2J\x1b[31m", "\\x1b]0;PWNED-TITLE\\x1b[2J\\x1b[31m"),
        ("\x1b]0;t\x1b\\ after", "\\x1b]0;t\\x1b\\ after"),  # an OSC ended by ST
        ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
        ("\x9b31m csi, \x9d osc, \x85 nel", "\\x9b31m csi, \\x9d osc, \\x85 nel"),  # C1
        ("a\tb", "a b"),
        ("two\nlines\r", "two\\nlines\\r"),
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),
        ("\u2066isolated\u2069 \u200fmark", "\\u2066isolated\\u2069 \\u200fmark"),
        ("zero\u200bwidth\ufeff \u2060", "zero\\u200bwidth\\ufeff \\u2060"),
        ("ad\u200dmin", "ad\\u200dmin"),  # a joiner between ASCII letters only disguises a name
        ("undecodable \udcff", "undecodable \\udcff"),
    ],
)
def test_controls_bidi_and_invisible_characters_become_visible_escapes(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "",
        'system_disk_usage_ratio{mount="/"} 0.93',
        "café Zürich naïve",
        "東京 서울 Москва עברית العربية",
        "🔥 👩\u200d💻 ❤\ufe0f\u200d🔥 🏳\ufe0f\u200d🌈",  # emoji, joiner sequences included
        "می\u200cخواهم",  # a Persian word's zero-width non-joiner
        "C:\\temp\\x1b is only backslashes",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert printable(text) == text
    assert printable(text, lines=True) == text


def test_lines_keeps_newlines_and_tabs() -> None:
    assert printable("Traceback:\n\tfile\x1b[2J\r\n", lines=True) == "Traceback:\n\tfile\\x1b[2J\\r\n"


@given(st.text(), st.booleans())
def test_nothing_a_terminal_would_obey_is_left(text: str, lines: bool) -> None:
    shown = printable(text, lines)
    kept = "\n\t" if lines else ""
    for character in shown:
        category = unicodedata.category(character)
        assert category not in ("Cc", "Cs", "Zl", "Zp") or character in kept, repr(character)
        assert character not in BIDI
    assert printable(shown, lines) == shown  # shown once, nothing left to escape


def test_the_log_formatter_escapes_messages_formatted_from_arguments() -> None:
    record = logging.LogRecord(
        "monitor.scheduler", logging.WARNING, __file__, 1, "source %r is down: %s", ("x", HOSTILE), None
    )
    line = PrintableFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == f"WARNING monitor.scheduler: source 'x' is down: {SHOWN}"


def test_the_log_formatter_escapes_a_traceback() -> None:
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        record = logging.LogRecord("monitor", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = PrintableFormatter("%(message)s").format(record)
    assert f"ValueError: {SHOWN}" in line
    assert "\x1b" not in line and "\n" in line  # a traceback keeps its lines


def monitor_once(config: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "-c", config, "once", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_monitor_once_and_its_log_show_what_a_server_sent_as_visible_escapes(write_config) -> None:
    """The table (label values, a down source's parse error) and, with -v, the log line
    `source 'broken' is down: ...` on stderr."""
    with hostile_server() as server:
        path = write_config(
            f"""
            sources:
              - {{name: hostile, collector: prometheus, url: "{server.url}/metrics"}}
              - {{name: broken, collector: prometheus, url: "{server.url}/broken"}}
            """
        )
        result = monitor_once(str(path), "-v")
        json_result = monitor_once(str(path), "--format", "json")
    assert result.returncode == 1, result.stderr  # `broken` is down
    assert f'demo_up{{service="{SHOWN}"}} 1' in result.stdout
    assert "error: http://" in result.stdout and "\\x1b]0;PWNED\\x1b\\\\" in result.stdout
    assert "source 'broken' is down: http://" in result.stderr
    assert "\\x1b]0;PWNED\\x1b\\\\" in result.stderr
    for output in (result.stdout, result.stderr):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    # The JSON document keeps the value exactly: JSON escapes it itself.
    assert "\\u001b]0;PWNED\\u0007" in json_result.stdout


def test_a_newline_in_a_servers_error_cannot_start_a_log_line_of_its_own() -> None:
    """`lines=True` kept the newline: a server answering `x\\n12:00:01 INFO monitor: all fine`
    forged a record in the journal."""
    formatter = PrintableFormatter("%(levelname)s %(name)s: %(message)s")
    record = logging.LogRecord(
        "monitor.scheduler",
        logging.WARNING,
        __file__,
        1,
        "source %r is down: %s",
        ("api", "x\nINFO monitor: all fine"),
        None,
    )
    first, second = formatter.format(record).split("\n")
    assert first == "WARNING monitor.scheduler: source 'api' is down: x"
    assert second == "    INFO monitor: all fine"
