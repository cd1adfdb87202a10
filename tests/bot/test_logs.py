from __future__ import annotations

import json
import logging

import pytest

from bot.logs import REDACTED, JsonFormatter, RedactingFormatter, Redactor

DISCORD_TOKEN = "MTE5ODU2NzQ1Njc4OTAxMjM0NQ.GabcdE.abcdefghijklmnopqrstuvwxyz012345"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("key sk-live-0123456789abcdef in a message", "sk-live-0123456789abcdef"),
        (f"token {DISCORD_TOKEN} leaked", DISCORD_TOKEN),
        ("GET /results/x.mp4?Expires=1&OSSAccessKeyId=LTAI5t&Signature=abc%2Bdef", "abc%2Bdef"),
        ("https://b.s3/x?X-Amz-Credential=AKIA/2024&X-Amz-Signature=deadbeef", "deadbeef"),
        ("https://cdn/attachments/1/2/a.png?ex=1&is=2&hm=0123abcd&", "0123abcd"),
        ("/media/abc.jpg?exp=1&sig=f00dfeed", "f00dfeed"),
        ("Authorization: Bearer sk-abcdefgh12345678", "sk-abcdefgh12345678"),
    ],
)
def test_secrets_and_signatures_are_redacted(text: str, gone: str) -> None:
    redact = Redactor(["sk-live-0123456789abcdef"])
    cleaned = redact(text)
    assert gone not in cleaned
    assert REDACTED in cleaned


def test_ordinary_text_is_left_alone() -> None:
    text = "job 12 submitted -> succeeded guild=5 attempt=1 (https://example.com/a?page=2)"
    assert Redactor(["secret-value"])(text) == text


def test_tracebacks_and_json_lines_are_redacted_too() -> None:
    redact = Redactor(["sk-secret-in-exception"])
    try:
        raise RuntimeError("failed with sk-secret-in-exception")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
        import sys

        record.exc_info = sys.exc_info()
    plain = RedactingFormatter(redact, "%(message)s").format(record)
    assert "sk-secret-in-exception" not in plain
    assert "RuntimeError" in plain
    line = JsonFormatter(redact).format(record)
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert "sk-secret-in-exception" not in line
