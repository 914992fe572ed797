"""Bearer token or HTTP basic auth for the exporter, checked in constant time.

The secrets live in pydantic SecretStr (the config requires them to come from ${VAR}), so
they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import hmac

from pydantic import SecretStr

from monitor.config import ExporterSettings

REALM = "monitor"


def _same(given: str, expected: SecretStr) -> bool:
    """aiohttp decodes header bytes as UTF-8 with surrogateescape, so a header that is not
    UTF-8 (bytes 0xff 0xfe after `Bearer `) holds lone surrogates that a strict encode() refuses: that
    raised, and every such request was a 500 with a traceback in the log. surrogateescape
    gives back the bytes the client sent, which are then compared as any others."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode())


class Authenticator:
    """Decides whether a request's Authorization header is acceptable."""

    def __init__(self, settings: ExporterSettings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.settings.bearer_token is not None or self.settings.basic_auth is not None

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate value a 401 carries, so clients know what to send."""
        scheme = "Bearer" if self.settings.bearer_token is not None else "Basic"
        return f'{scheme} realm="{REALM}"'

    def allows(self, authorization: str | None) -> bool:
        if not self.enabled:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        token = self.settings.bearer_token
        if token is not None:
            return scheme.lower() == "bearer" and _same(credentials, token)
        basic = self.settings.basic_auth
        assert basic is not None
        if scheme.lower() != "basic":
            return False
        try:
            # b64decode raises a bare ValueError, not binascii.Error, on a non-ASCII str.
            decoded = base64.b64decode(credentials, validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
            return False
        username, sep, password = decoded.partition(":")
        # Both comparisons always run, so the time taken does not tell which one failed.
        user_ok = hmac.compare_digest(username.encode(), basic.username.encode())
        return bool(sep) & user_ok & _same(password, basic.password)
