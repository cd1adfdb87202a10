from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot.logs import REDACTED, JsonFormatter, RedactingFormatter, RedactingStream, Redactor
from tests.support.commands import run_bot_command

REPO = Path(__file__).resolve().parents[2]
DISCORD_TOKEN = "MTE5ODU2NzQ1Njc4OTAxMjM0NQ.GabcdE.abcdefghijklmnopqrstuvwxyz012345"
# A secret with every character that an encoding changes: / " \ space + ~ and a non-ASCII one.
HOSTILE = 'k3y/wi"th\\ sp+ce~é-0123'


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("x", logging.ERROR, __file__, 1, message, args or None, None)


def _with_exception(record: logging.LogRecord, text: str) -> logging.LogRecord:
    try:
        raise RuntimeError(text)
    except RuntimeError:
        record.exc_info = sys.exc_info()
    return record


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
        # A signed URL inside another URL's query: its "=" and "&" are percent-encoded.
        ("/r?to=https%3A%2F%2Fo%2Fa.mp4%3FExpires%3D1%26Signature%3Dabc%252Bdef%26x%3D1", "abc%"),
        ("connecting to postgresql://bot:hunter2hunter@db:5432/emo", "hunter2hunter"),
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
    words = "the bot reconnected; Bot connected to 3 servers; a bearer bond"
    assert Redactor([])(words) == words
    nested = "/r?to=https%3A%2F%2Fo%2Fa%3FSignature%3Dabc%26page%3D2"
    assert Redactor([])(nested).endswith("%26page%3D2")  # only the signature goes


@pytest.mark.parametrize(
    "form",
    [
        quote(HOSTILE),  # "/" kept
        quote(HOSTILE, safe=""),  # "/" → %2F
        quote_plus(HOSTILE),  # " " → +, "+" → %2B
        quote(HOSTILE, safe="").lower(),  # %2f
        quote(quote(HOSTILE, safe=""), safe=""),  # encoded twice: %252F
        quote(HOSTILE, safe='/"\\ ~'),  # only some characters encoded
        json.dumps(HOSTILE)[1:-1],  # \" and \\
        json.dumps(HOSTILE, ensure_ascii=True)[1:-1],  # é → \u00e9
        json.dumps(json.dumps(HOSTILE, ensure_ascii=True)[1:-1])[1:-1],  # JSON inside JSON
        repr(HOSTILE)[1:-1],  # \\
        repr(HOSTILE.encode())[2:-1],  # \xc3\xa9
    ],
)
def test_encoded_and_escaped_forms_of_a_secret_are_redacted(form: str) -> None:
    assert form != HOSTILE
    cleaned = Redactor([HOSTILE])(f"GET /x?key={form}&page=2 failed")
    assert cleaned == f"GET /x?key={REDACTED}&page=2 failed"


@pytest.mark.parametrize(
    "split",
    [
        HOSTILE[:7] + "\n" + HOSTILE[7:],  # a wrapped line
        HOSTILE[:7] + "\r\n        " + HOSTILE[7:],  # a continuation line, indented
        f"'{HOSTILE[:7]}'\n '{HOSTILE[7:]}'",  # pprint's adjacent string literals
        repr(HOSTILE[:7] + "\n" + HOSTILE[7:])[1:-1],  # a repr shows the newline as \n
        DISCORD_TOKEN[:40] + "\n" + DISCORD_TOKEN[40:],
        "\n".join(DISCORD_TOKEN[i : i + 20] for i in range(0, len(DISCORD_TOKEN), 20)),
    ],
)
def test_a_secret_split_across_lines_is_redacted(split: str) -> None:
    cleaned = Redactor([HOSTILE, DISCORD_TOKEN])(f"failed: {split} (end)")
    assert cleaned.replace("'", "") == f"failed: {REDACTED} (end)"  # the literals' quotes stay


def test_tracebacks_and_json_lines_are_redacted_too() -> None:
    redact = Redactor(["sk-secret-in-exception"])
    record = _with_exception(_record("boom"), "failed with sk-secret-in-exception")
    plain = RedactingFormatter(redact, "%(message)s").format(record)
    assert "sk-secret-in-exception" not in plain
    assert "RuntimeError" in plain
    line = JsonFormatter(redact).format(record)
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert "sk-secret-in-exception" not in line


def test_json_lines_redact_each_field_before_encoding() -> None:
    """Encoded first, the quote and the backslash would be \\" and \\\\ in the line: a search
    for the secret as written would miss it."""
    redact = Redactor([HOSTILE])
    record = _record("login with %s failed", HOSTILE)
    record = _with_exception(record, f"rejected {HOSTILE!r}\nsplit: {HOSTILE[:9]}\n{HOSTILE[9:]}")
    line = JsonFormatter(redact).format(record)
    entry = json.loads(line)  # still one valid JSON object
    assert entry["message"] == f"login with {REDACTED} failed"
    assert entry["exception"].endswith(f"RuntimeError: rejected '{REDACTED}'\nsplit: {REDACTED}")
    for form in (HOSTILE, json.dumps(HOSTILE)[1:-1], "k3y/wi", "th\\ sp+ce~é-0123"):
        assert form not in line
    assert "\n" not in line


def test_a_printed_secret_is_redacted_even_when_written_in_pieces() -> None:
    target = io.StringIO()
    stream = RedactingStream(target, Redactor([HOSTILE]))
    print(HOSTILE[:5], HOSTILE[5:], sep="", file=stream)  # four writes, one line
    assert target.getvalue() == f"{REDACTED}\n"
    print(f"a: {HOSTILE[:10]}\n{HOSTILE[10:]} (split in one print)", file=stream)
    stream.write(f"no newline yet {quote(HOSTILE, safe='')}")
    assert target.getvalue().count(REDACTED) == 2  # the unfinished line is held
    stream.flush()
    assert target.getvalue().endswith(f"no newline yet {REDACTED}")
    assert "k3y" not in target.getvalue()


def test_log_records_and_prints_keep_their_order() -> None:
    target = io.StringIO()
    stream = RedactingStream(target, Redactor([]))
    stream.write("printed first, no newline ")
    stream.write_redacted("a log record\n")
    assert target.getvalue() == "printed first, no newline a log record\n"


_CHANNELS = f"""
import asyncio, json, sys, threading, warnings
from bot.logs import configure_logging

secret = {HOSTILE!r}
configure_logging("info", json_lines=sys.argv[1] == "json", secrets=["unrelated-0", secret])
print("print:", secret)
print("print, encoded:", {quote(HOSTILE, safe="")!r}, file=sys.stderr)
warnings.warn("warning: " + secret)
def in_thread():
    raise ValueError("thread: " + secret)
thread = threading.Thread(target=in_thread, name="worker")
thread.start()
thread.join()

class Leaky:
    def __del__(self):
        raise OSError("unraisable: " + secret)
Leaky()

async def failing():
    raise KeyError("task: " + secret)
async def main():
    asyncio.get_running_loop().create_task(failing())
    await asyncio.sleep(0.05)
asyncio.run(main())
raise RuntimeError("uncaught: " + json.dumps(secret) + " / " + secret[:8] + "\\n" + secret[8:])
"""


@pytest.mark.parametrize("mode", ["plain", "json"])
def test_every_way_out_of_the_process_is_redacted(mode: str, tmp_path: Path) -> None:
    """print, warnings, an exception in a thread, an unraisable one, an asyncio task's and an
    uncaught one: each reaches the output, and the secret in no form."""
    done = subprocess.run(
        [sys.executable, "-c", _CHANNELS, mode],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert done.stdout == f"print: {REDACTED}\n"
    for seen in (
        f"print, encoded: {REDACTED}",
        "warning: ",
        "thread worker",
        "unraisable: ",
        "task: ",
        "uncaught RuntimeError",
    ):
        assert seen in output, output
    _assert_no_form_of(HOSTILE, output)
    if mode == "json":
        lines = [line for line in done.stderr.splitlines() if line.startswith("{")]
        assert len(lines) == 5  # the warning, the thread, the unraisable, the task, the crash
        for line in lines:
            json.loads(line)


def _assert_no_form_of(secret: str, output: str, *, pieces: bool = True) -> None:
    """Not as written, encoded or escaped; nor (``pieces``) its first or last six characters."""
    forms = {
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }
    if pieces:
        forms |= {secret[:6], secret[-6:], quote(secret, safe="")[:8]}
    for text in forms:
        assert text not in output, f"{text!r} in:\n{output}"


# EMO_DATABASE_URL is a secret, and so is its password as written and as decoded. A password
# with an invalid percent escape makes libpq echo it, still encoded, at start.
_ENCODED_PASSWORD = "se%2Fcr%22et%5Cx%ZZ"


@pytest.mark.parametrize(
    ("url", "json_lines"),
    [
        (f"postgresql://bot:{_ENCODED_PASSWORD}@127.0.0.1:1/emo", "false"),
        (f"postgresql://bot:{_ENCODED_PASSWORD}@127.0.0.1:1/emo", "true"),
        ('postgresql://bot:se"cr\\et@[::1/emo', "true"),  # libpq echoes the URL; JSON escapes
    ],
)
def test_the_bot_failing_at_start_never_shows_its_secrets(
    url: str, json_lines: str, tmp_path: Path
) -> None:
    token = 'tok/en"with\\quotes-0123456789'
    done = run_bot_command(
        tmp_path,
        timeout=60,
        DISCORD_TOKEN=token,
        EMO_DATABASE_URL=url,
        EMO_LOG_JSON=json_lines,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert REDACTED in output, output  # the failure was reported, its secret replaced
    _assert_no_form_of(url, output, pieces=False)  # "postgresql://bot:" may show
    for secret in (token, 'se/cr"et\\x', 'se"cr\\et'):
        _assert_no_form_of(secret, output)
    assert "cr%22et" not in output
    assert "cr\\\\et" not in output


def test_a_redactor_learns_a_secret_known_later() -> None:
    redact = Redactor(["configured-secret-1"])
    later = "sk-learned-at-run-time-42"
    assert redact(f"key {later}") == f"key {later}"
    redact.learn(later)
    redact.learn(later)  # twice: no change
    redact.learn("short")  # too short to redact without blanking words
    assert redact(f"key {later} and configured-secret-1") == f"key {REDACTED} and {REDACTED}"
    assert redact(f"key {quote(later)} short") == f"key {REDACTED} short"


_LEARNED = f"""
import logging, sys
from bot.logs import configure_logging, learn_secret

secret = {HOSTILE!r}
configure_logging("info", json_lines=sys.argv[1] == "json", secrets=["unrelated-0"])
log = logging.getLogger("x")
log.info("before: %s", secret[:4])
learn_secret(secret)
log.info("logged: %s", secret)
print("printed:", secret)
print("to stderr:", secret, file=sys.stderr)
configure_logging("info", json_lines=sys.argv[1] == "json", secrets=["unrelated-0"])
learn_secret(secret)  # configured again: the new redactor is the one taught
log.info("again: %s", secret)
"""


@pytest.mark.parametrize("mode", ["plain", "json"])
def test_a_secret_learned_at_run_time_is_redacted_everywhere_from_then_on(
    mode: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LEARNED, mode],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert HOSTILE not in output
    assert json.dumps(HOSTILE)[1:-1] not in output
    assert done.stdout == f"printed: {REDACTED}\n"
    for seen in ("before: ", "logged: [redacted]", "to stderr: [redacted]", "again: [redacted]"):
        assert seen in output, output
