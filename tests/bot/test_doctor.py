"""``python -m bot doctor`` as a real child process, against the simulator and the fake Discord."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.provider.accounts import fingerprint
from tests.bot.simulator.conftest import FIXTURES, Client, tone_wav
from tests.bot.simulator.test_tasks import Inputs, submit_ok
from tests.conftest import API_KEY, BotFactory
from tests.fake_discord import FakeDiscord
from tests.support.e2e import accounts_simulator

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


async def test_doctor_finds_two_keys_of_one_account_by_their_task_lists(
    bot_process: BotFactory, tmp_path: Path
) -> None:
    """Keys of one Alibaba Cloud account share its one render slot (the bot would count one
    per key). The account's task list holds every key's tasks: two lists sharing one are one
    account."""
    one, spare, other = "sk-doctor-first-0001", "sk-doctor-first-0002", "sk-doctor-second-03"
    async with (
        accounts_simulator({"first": [one, spare], "second": [other]}) as simulator,
        aiohttp.ClientSession() as http,
    ):
        client = Client(http, simulator, one)
        portrait = (FIXTURES / "astronaut.png").read_bytes()
        image = await client.upload("emo-v1", "portrait.png", portrait)
        audio = await client.upload("emo-v1", "tone.wav", tone_wav(1))
        await submit_ok(client, Inputs(image, audio))  # a task of the first account
        base = {"DASHSCOPE_BASE_URL": simulator.base_url}
        code, lines, err = await _doctor(
            bot_process, tmp_path, DASHSCOPE_API_KEY=f"{one},{spare},{other}", **base
        )
        apart, apart_lines, apart_err = await _doctor(
            bot_process, tmp_path, DASHSCOPE_API_KEY=f"{one},{other}", **base
        )
    assert code == 1, (lines, err)
    line = _line(lines, "accounts")
    assert line.startswith("✗ "), line
    assert f"{fingerprint(one)} and {fingerprint(spare)}" in line
    assert fingerprint(other) not in line
    assert "keep one key per account" in line
    # Two accounts, one without a task in the window: passed, saying what was not compared.
    assert apart == 0, (apart_lines, apart_err)
    line = _line(apart_lines, "accounts")
    assert line.startswith("✓ accounts: 2 accounts, no two sharing a task"), line
    assert f"({fingerprint(other)}: no task in the last 24 h, not compared)" in line
    for text in ("\n".join(lines), "\n".join(apart_lines), err, apart_err):
        assert all(key not in text for key in (one, spare, other))
