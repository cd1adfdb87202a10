"""``python -m bot doctor`` as a real child process, against the simulator and the fake Discord."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEY, BotFactory
from tests.fake_discord import FakeDiscord

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


async def _doctor(
    bot_process: BotFactory, tmp_path: Path, **overrides: str
) -> tuple[int, list[str], str]:
    bot = bot_process(**overrides)
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        cwd=tmp_path,
        env={**bot.environment, "PYTHONIOENCODING": "utf-8"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(done.communicate(), timeout=20)
    assert done.returncode is not None
    return done.returncode, out.decode().splitlines(), err.decode()


def _line(lines: list[str], name: str) -> str:
    found = [line for line in lines if line[2:].startswith(name)]
    assert len(found) == 1, lines
    return found[0]


def _no_secrets(lines: list[str], discord_fake: FakeDiscord) -> None:
    text = "\n".join(lines)
    assert discord_fake.bot_token not in text
    assert API_KEY not in text


async def test_doctor_passes_every_check_against_the_stand_ins(
    bot_process: BotFactory, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    code, lines, err = await _doctor(bot_process, tmp_path)
    assert code == 0, (lines, err)
    assert lines, err
    assert all(line.startswith("✓ ") for line in lines), lines
    assert "provider dashscope, media host dashscope" in _line(lines, "settings")
    assert "logged in as" in _line(lines, "Discord token")
    assert "accepted by" in _line(lines, "DashScope key")
    assert "InvalidFile.NoHuman" in _line(lines, "media host (dashscope)")
    assert "text channels" in _line(lines, "permissions in")
    _no_secrets(lines, discord_fake)
    assert discord_fake.violations == []


async def test_doctor_reports_a_wrong_key_with_its_fix(
    bot_process: BotFactory, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    code, lines, err = await _doctor(bot_process, tmp_path, DASHSCOPE_API_KEY="sk-wrong")
    assert code == 1, (lines, err)
    key = _line(lines, "DashScope key")
    assert key.startswith("✗ ")
    assert "InvalidApiKey" in key
    assert "fix: use a key of the China (Beijing) region" in key
    assert "DASHSCOPE_BASE_URL must be https://dashscope.aliyuncs.com/api/v1" in key
    assert _line(lines, "media host").startswith("⚠ ")
    assert "sk-wrong" not in "\n".join(lines)
    _no_secrets(lines, discord_fake)


async def test_doctor_reports_a_wrong_discord_token_with_its_fix(
    bot_process: BotFactory, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    code, lines, err = await _doctor(bot_process, tmp_path, DISCORD_TOKEN="nope")
    assert code == 1, (lines, err)
    token = _line(lines, "Discord token")
    assert token == (
        "✗ Discord token: Discord token rejected — fix: reset the token in the Developer "
        "Portal and put it in DISCORD_TOKEN"
    )
    assert _line(lines, "permissions").startswith("⚠ ")
    # The provider checks still run on their own.
    assert _line(lines, "DashScope key").startswith("✓ ")
    assert "nope" not in "\n".join(lines)
    _no_secrets(lines, discord_fake)
