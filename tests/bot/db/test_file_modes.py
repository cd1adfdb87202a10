"""Every file the bot process creates is 0600 and every folder 0700: the database and its
journals, the lock, a job's media, a backup. Through the real ``python -m bot`` after a
delivered job, whatever umask it was started with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import API_KEY
from tests.fake_discord import FakeDiscord
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, started

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _modes(root: Path) -> dict[str, str]:
    """Each entry under ``root`` (``root`` included) with its permission bits."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


async def test_files_the_bot_creates_are_its_own(
    discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    environment = {
        "DISCORD_TOKEN": discord_fake.bot_token,
        "DISCORD_API_BASE_URL": discord_fake.api_base_url,
        "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
        "DASHSCOPE_API_KEY": API_KEY,
        "DASHSCOPE_BASE_URL": simulator.base_url,
        "EMO_DATA_DIR": str(data_dir),
        "EMO_OPS_BIND": "off",
    }
    previous = os.umask(0o022)  # the usual default: files would be 0644 by it
    try:
        bot = BotProcess(environment, tmp_path / "bot")
        try:
            await started(bot, discord_fake)
            member = discord_fake.add_member(name="alice")
            await discord_fake.invoke_slash(
                "emo animate", user_id=member, attachments=attachments(fixtures)
            )

            try:
                await discord_fake.wait_for_message(predicate=is_video, timeout=120)
            except TimeoutError:
                pytest.fail(f"no video was posted:\n{bot.log_text()[-6000:]}")
            backup = tmp_path / "backups" / "emo-bot.sqlite3"
            backup.parent.mkdir()
            status, _, err = await bot.run("backup", str(backup))
            assert status == 0, err
        finally:
            await bot.stop()
    finally:
        os.umask(previous)

    modes = _modes(data_dir)
    media = [name for name in modes if name.startswith("media" + os.sep + "job-")]
    assert any(name.endswith("result.mp4") for name in media), modes  # a job's files are there
    assert "emo-bot.sqlite3" in modes
    assert "emo-bot.lock" in modes
    wrong = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0o700" if (data_dir / name).is_dir() else "0o600")
    }
    assert wrong == {}, modes
    assert oct(stat.S_IMODE(backup.stat().st_mode)) == "0o600"
