"""Logging set-up: plain or JSON lines, with secrets and URL signatures redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"

# Query parameters that carry a signature or a credential: DashScope/OSS result URLs,
# S3 presigned URLs, the bot's own media links, Discord CDN links.
_SIGNED_PARAMS = re.compile(
    r"(?i)\b(Signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|OSSAccessKeyId"
    r"|sig|hm|token|access_token)=([^&\s\"'<>]+)"
)
_BEARER = re.compile(r"(?i)\b(Bearer|Bot)\s+([A-Za-z0-9._\-]{8,})")
# Discord bot tokens: three dot-separated base64url parts.
_DISCORD_TOKEN = re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}\b")


class Redactor:
    """Replaces known secret values and secret-shaped text with a marker."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _SIGNED_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return _DISCORD_TOKEN.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual (tracebacks included), then redacts the whole line."""

    def __init__(self, redact: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class JsonFormatter(RedactingFormatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._redact(json.dumps(entry, ensure_ascii=False))


PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str, *, json_lines: bool = False, secrets: Iterable[str] = ()) -> None:
    """Send every log line to stderr, redacted."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(redact) if json_lines else RedactingFormatter(redact, PLAIN_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # discord.py's own INFO chatter (gateway, rate limits) is useful; its DEBUG is not.
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))
    # aiosqlite's DEBUG lines echo every statement with its values: noise, and member data.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    # psycopg's pool warns at every failed reconnection attempt; the database layer says
    # once that the database is down and once that it is back (bot/db/postgres.py).
    logging.getLogger("psycopg.pool").setLevel(max(logging.ERROR, root.level))
