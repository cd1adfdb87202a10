"""An attachment whose declared size is over EMO_MAX_INPUT_BYTES is refused before a byte of
it is downloaded and before a job row is written, through the real bot process and the fake
Discord; one under the limit is still downloaded (and capped all the same)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support.e2e import attachments, is_video, started

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

LIMIT = 1024 * 1024  # 1 MiB


async def test_a_declared_size_over_the_limit_is_refused_unread(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    bot = bot_process(EMO_MAX_INPUT_BYTES=str(LIMIT))
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="uma")
    files = attachments(fixtures)
    photo, name, kind = files["image"]
    big = {**files, "image": (photo + bytes(2 * LIMIT - len(photo)), name, kind)}  # 2 MiB

    interaction = await discord_fake.invoke_slash("emo animate", user_id=member, attachments=big)
    answer = await interaction.wait_original_edit(lambda m: "larger than" in m.content, timeout=30)
    assert "The image is larger than 1 MB" in answer.content
    assert not any("/attachments/" in path for path in discord_fake.cdn_requests)
    with sqlite3.connect(tmp_path / "data" / "emo-bot.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (0,)
    assert "declares 2097152 bytes: refused unread" in bot.log_text()

    # The same member's photo at its real size goes through.
    await discord_fake.invoke_slash("emo animate", user_id=member, attachments=files)
    await discord_fake.wait_for_message(predicate=is_video, timeout=120)
    assert len(simulator.submissions) == 1
    assert discord_fake.violations == []
