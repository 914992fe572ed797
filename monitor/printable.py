"""Text from outside (scraped label values, a server's error, a command's stderr) made safe to
show on a terminal.

A monitored service chooses these texts. Written raw, an ESC in a label value is an escape
sequence the operator's terminal obeys (`ESC ] 0 ; title ESC \\` retitles the window, `ESC [ 2 J`
clears it), and a bidi override or a zero-width character makes the text read as something it
is not. Each such character is shown instead as the escape Python writes for it, in the
character's own place: ESC as `\\x1b`, a C1 CSI as `\\x9b`, RIGHT-TO-LEFT OVERRIDE as `\\u202e`.
Everything else, accents, CJK and emoji included, is left as it is.

Applied where text is displayed (the dashboard, `monitor once`'s table, log lines), never where
it is stored or exported: /metrics and the JSON API carry label values exactly, escaped by
their own formats.
"""

from __future__ import annotations

import logging
import re

_ALWAYS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1
    "\u061c\u200e\u200f"  # bidi marks: ALM, LRM, RLM
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides, isolates
    "\u200b\u2060-\u2064\ufeff\u180e"  # zero-width space, word joiner, invisible operators, BOM
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff"  # lone surrogates (an undecodable byte): no terminal encoding writes them
)
_JOINERS = "\u200c\u200d"
"""Zero-width (non-)joiners are kept between two non-ASCII characters, where they do their work
(an emoji sequence such as 👩‍💻, Persian and Indic words), and escaped next to ASCII, where they
only make a name look like another (`ad\\u200dmin`)."""
_JOINER_NEAR_ASCII = rf"(?<![^\x00-\x7f])[{_JOINERS}]|[{_JOINERS}](?![^\x00-\x7f])"

ONE_LINE = re.compile(rf"[{_ALWAYS}\t\n]|{_JOINER_NEAR_ASCII}")
LINES = re.compile(rf"[{_ALWAYS}]|{_JOINER_NEAR_ASCII}")


SHORT = {"\t": " ", "\n": "\\n", "\r": "\\r"}
"""In one line a tab is a space (a tab stop would move what follows); a newline and a carriage
return are written as Python writes them."""


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in SHORT:
        return SHORT[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, lines: bool = False) -> str:
    """`text` with every control, bidi and invisible character shown as its escape (`\\x1b`).
    One line by default (a newline shows as `\\n`, a tab becomes a space); with `lines`,
    newlines and tabs are kept, for a log line's traceback or an error shown in full.
    str.isprintable() is false for every character escaped here (controls, format characters,
    separators other than the space, surrogates), so printable text costs one scan in C."""
    if text.isprintable():  # the usual case, and cheap: none of those characters is printable
        return text
    return (LINES if lines else ONE_LINE).sub(_escape, text)


CONTINUATION = "\n    "
"""What each line of a record after its first starts with."""


class PrintableFormatter(logging.Formatter):
    """Log lines as printable() shows them: a message formatted from its arguments (`source
    'x' is down: <the server's error>`) and its traceback carry outside text. A record's lines
    after the first are indented, so a newline in a server's error cannot start a line that
    reads as a record of its own (`12:00:01 INFO ...`) in a journal or log file."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), lines=True).replace("\n", CONTINUATION)
