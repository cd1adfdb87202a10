"""Logging set-up: plain or JSON lines, with secrets and URL signatures redacted.

Everything the process writes goes through one ``Redactor``: log records (each JSON field
before it is encoded), ``warnings``, uncaught exceptions (the main thread, other threads,
"exception ignored" reports) and ``print`` (stdout and stderr are wrapped). A secret is
found as written, percent-encoded (any mix, either hex case, ``+`` for a space, encoded
twice), backslash-escaped (repr, JSON) and broken across lines (a repr or a wrapped
traceback). Only writes to the file descriptors themselves (C libraries) get past.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO, cast

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would blank ordinary words
_PENDING_LIMIT = 64 * 1024  # a stream holding more than this without a flush writes it out

# Query parameters that carry a signature or a credential: DashScope/OSS result URLs,
# S3 presigned URLs, the bot's own media links, Discord CDN links. The "?", "&" and "=" may
# be percent-encoded (a URL inside another URL's query), so no \b before the name.
_SIGNED_PARAMS = re.compile(
    r"(?i)(?<![a-z])(Signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|OSSAccessKeyId"
    r"|sig|hm|token|access_token)(=|%(?:25)*3D)((?:(?!%(?:25)*26)[^&\s\"'<>\\])+)"
)
# An Authorization header's value: "Bearer"/"Bot", then a credential with a digit in it
# (so "the bot reconnected" stays as it is).
_BEARER = re.compile(r"(?i)\b(Bearer|Bot)(\s+|%20|\+)(?=[A-Za-z._\-]*\d)([A-Za-z0-9._\-]{8,})")
# Discord bot tokens: three dot-separated base64url parts.
_DISCORD_TOKEN = re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}\b")
# The password of a URL: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@\"'<>]*:)([^\s/@\"'<>]+)@")

# Between two characters of a secret: nothing, or a line break, perhaps with the quotes of
# adjacent string literals and indentation around it ('abc'\n    'def'), a backslash
# continuation, or the escaped form of a newline (\n inside a repr).
_BREAK = r"""(?:["']?[ \t]*\\?(?:\r?\n|(?:\\r)?\\n)[ \t]*["']?)?"""


def _hex(byte: int) -> str:
    """Two hex digits matching either case."""
    return "".join(f"[{c}{c.lower()}]" if c.isalpha() else c for c in f"{byte:02X}")


def _char_forms(char: str) -> str:
    """A regex for one character of a secret in every form the logs might show it."""
    data = char.encode()
    literal = re.escape(char)
    if not char.isalnum():
        literal = r"\\{0,3}" + literal  # escaped by repr or JSON, once or twice
    forms = [literal, "".join(f"%(?:25)*{_hex(byte)}" for byte in data)]
    if char == " ":
        forms.append(r"\+")  # quote_plus
    if ord(char) > 0x7F:
        code = ord(char)
        if code <= 0xFFFF:
            forms.append(r"\\{1,4}u" + _hex(code >> 8) + _hex(code & 0xFF))  # JSON (ASCII)
        forms.append("".join(r"\\{1,4}x" + _hex(byte) for byte in data))  # a bytes repr
    return "(?:" + "|".join(forms) + ")"


def secret_pattern(secret: str) -> str:
    """A regex for ``secret`` as written, encoded, escaped or split across lines."""
    return _BREAK.join(_char_forms(char) for char in secret)


class Redactor:
    """Replaces known secret values and secret-shaped text with a marker."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = frozenset(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)
        self._known = self._compile(self._secrets)
        self._learning = threading.Lock()

    @staticmethod
    def _compile(secrets: frozenset[str]) -> re.Pattern[str] | None:
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted(secrets, key=len, reverse=True)
        return re.compile("|".join(map(secret_pattern, ordered))) if ordered else None

    def learn(self, secret: str) -> None:
        """Redact ``secret`` too from now on (a key learned at run time). The pattern is
        replaced whole, so a line being redacted meanwhile uses the old one or the new one."""
        if len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        with self._learning:
            self._secrets = self._secrets | {secret}
            self._known = self._compile(self._secrets)

    def __call__(self, text: str) -> str:
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        text = _SIGNED_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
        return _DISCORD_TOKEN.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual (tracebacks included), then redacts the whole text at once, so a
    secret broken across the traceback's lines is found too."""

    def __init__(self, redact: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(RedactingFormatter):
    """One JSON object per line, for log collectors. Each field is redacted before it is
    encoded: once encoded, a secret with a quote or a backslash would no longer match."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


class RedactingStream(io.TextIOBase):
    """A text stream (sys.stdout, sys.stderr) that redacts what is written to it.

    Text is held until a write ends a line (the end of a ``print``), or ``flush()``, and is
    redacted as one piece: a secret printed in parts (``print(a, b)``) or broken by a newline
    inside one print is still found. A secret split between two prints is not. More than
    64 KiB held is written out at once.
    """

    def __init__(self, target: TextIO, redact: Redactor) -> None:
        super().__init__()
        self.target = target
        self.redact = redact
        self._pending: list[str] = []
        self._size = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending.append(text)
            self._size += len(text)
            if text.endswith("\n") or self._size > _PENDING_LIMIT:
                self._write_out()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._write_out()
        self.target.flush()

    def write_redacted(self, text: str) -> None:
        """Write text that is already redacted (a formatted log record), after what is held."""
        with self._lock:
            self._write_out()
            self.target.write(text)
        self.target.flush()  # as logging's StreamHandler does after each record

    def _write_out(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._size = 0
            self.target.write(self.redact(text))

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.target.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.target.errors


def _redacting(stream: TextIO, redact: Redactor) -> RedactingStream:
    if isinstance(stream, RedactingStream):
        stream.flush()
        stream.redact = redact  # configured again with more secrets: no second layer
        return stream
    return RedactingStream(stream, redact)


class _LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record (redacted by its formatter) to the redacting stderr, in order with
    anything printed, without redacting it a second time."""

    def __init__(self, stream: RedactingStream) -> None:
        super().__init__(stream)
        self._out = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._out.write_redacted(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


# --- what would otherwise print a traceback itself ---------------------------------------

_crash_log = logging.getLogger("bot.crash")


def _uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    _crash_log.critical("uncaught %s", kind.__name__, exc_info=(kind, error, traceback))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as threading's own hook: a thread that exits is no error
    name = args.thread.name if args.thread is not None else "?"
    error = args.exc_value or args.exc_type()
    _crash_log.error(
        "uncaught %s in thread %s",
        args.exc_type.__name__,
        name,
        exc_info=(args.exc_type, error, args.exc_traceback),
    )


def _unraisable(report: sys.UnraisableHookArgs) -> None:
    message = report.err_msg or "Exception ignored in"
    where = f"{message}: {report.object!r}" if report.object is not None else message
    error = report.exc_value or report.exc_type()
    _crash_log.error("%s", where, exc_info=(report.exc_type, error, report.exc_traceback))


def _install_hooks() -> None:
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    sys.unraisablehook = _unraisable
    logging.captureWarnings(True)  # warnings.warn → the "py.warnings" logger
    # asyncio's default exception handler already logs through the "asyncio" logger.


PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def learn_secret(secret: str) -> None:
    """Redact ``secret`` from every line written from now on (a key a server gave at run
    time): taught to the redactor ``configure_logging`` installed, found where it is used."""
    found: dict[int, Redactor] = {}
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, RedactingFormatter):
            found[id(formatter.redact)] = formatter.redact
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, RedactingStream):
            found[id(stream.redact)] = stream.redact
    for redactor in found.values():
        redactor.learn(secret)


def configure_logging(
    level: str, *, json_lines: bool = False, secrets: Iterable[str] = ()
) -> Redactor:
    """Send every log line to stderr, redacted; route uncaught exceptions and warnings to the
    log, and redact whatever else is printed. May be called again (with more secrets).
    Returns the redactor (``learn`` teaches it a secret known later; or ``learn_secret``)."""
    redact = Redactor(secrets)
    sys.stdout = cast(TextIO, _redacting(sys.stdout, redact))
    stderr = _redacting(sys.stderr, redact)
    sys.stderr = cast(TextIO, stderr)
    handler = _LogHandler(stderr)
    handler.setFormatter(
        JsonFormatter(redact) if json_lines else RedactingFormatter(redact, PLAIN_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    _install_hooks()
    # discord.py's own INFO chatter (gateway, rate limits) is useful; its DEBUG is not.
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))
    # aiosqlite's DEBUG lines echo every statement with its values: noise, and member data.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    # psycopg's pool warns at every failed reconnection attempt; the database layer says
    # once that the database is down and once that it is back (bot/db/postgres.py).
    logging.getLogger("psycopg.pool").setLevel(max(logging.ERROR, root.level))
    return redact
