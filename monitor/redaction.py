"""Hiding values that came from ${VAR} (secrets, by the README's promise) from every message a
user sees: config errors, collection errors, logs, the dashboard and the API.

A secret rarely reaches a message as written: a URL carries it percent-encoded
(`p4ss|w0rd` as `p4ss%7Cw0rd`, a space as `+` in a query), and a config error quotes the
rejected input with repr() (`'a\\nb'`). Each secret is matched in all of those forms."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

REDACTED = "***"
MIN_REDACTED_LENGTH = 3
"""Environment values shorter than this are left in messages: replacing every `1` or `80`
would garble a message and hide nothing worth hiding."""


def make_redactor(secrets: Iterable[str]) -> Callable[[str], str]:
    """A function replacing every form of every secret in a text by ***, longest secret first
    (so a secret that contains another is hidden whole)."""
    forms = sorted(
        {secret for secret in secrets if len(secret) >= MIN_REDACTED_LENGTH}, key=len, reverse=True
    )
    if not forms:
        return _unchanged
    pattern = re.compile("|".join(_secret_pattern(secret) for secret in forms))
    return lambda text: pattern.sub(REDACTED, text)


def _unchanged(text: str) -> str:
    return text


def _secret_pattern(secret: str) -> str:
    """The secret with each character as itself or percent-encoded (either hex case; a space
    also as `+`), or the secret as repr() escapes it."""
    written = "".join(_character_pattern(character) for character in secret)
    quoted = repr(secret)[1:-1]
    return f"(?:{written})" if quoted == secret else f"(?:{written}|{re.escape(quoted)})"


def _character_pattern(character: str) -> str:
    try:  # an environment's undecodable byte is a surrogate that stands for that byte
        raw = character.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no encoder writes out
        return re.escape(character)
    encoded = "".join(f"%{byte:02x}" for byte in raw)
    plus = r"|\+" if character == " " else ""
    return f"(?:{re.escape(character)}|(?i:{encoded}){plus})"
