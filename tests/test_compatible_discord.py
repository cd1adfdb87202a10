"""A bot pointed at a Discord-compatible server with the URL settings alone.

The walking-skeleton promise: `DISCORD_TOKEN`, `DISCORD_API_BASE_URL`, `DISCORD_GATEWAY_URL`,
`DASHSCOPE_API_KEY`, `DASHSCOPE_BASE_URL` and `EMO_DATA_DIR`, nothing else, and a member's
attachments on that server's own CDN are downloaded and animated (the configured Discord's
host is trusted for attachments, beside EMO_ATTACHMENT_HOSTS).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from yarl import URL

from bot.simulator import Simulator
from tests.conftest import API_KEY
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, started

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_six_settings_are_enough_to_deliver_from_the_servers_own_cdn(
    discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path, tmp_path: Path
) -> None:
    environment = {
        "DISCORD_TOKEN": discord_fake.bot_token,
        "DISCORD_API_BASE_URL": discord_fake.api_base_url,
        "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
        "DASHSCOPE_API_KEY": API_KEY,
        "DASHSCOPE_BASE_URL": simulator.base_url,
        "EMO_DATA_DIR": str(tmp_path / "data"),
    }
    bot = BotProcess(environment, tmp_path / "bot")
    try:
        await started(bot, discord_fake)
        member = discord_fake.add_member(name="alice")
        interaction = await discord_fake.invoke_slash(
            "emo animate", user_id=member, attachments=attachments(fixtures)
        )
        resolved = interaction.payload["data"]["resolved"]["attachments"].values()
        hosts = {URL(str(attachment["url"])).host for attachment in resolved}
        assert hosts == {"127.0.0.1"}  # the fake's own CDN, not Discord's

        def is_result(message: FakeMessage) -> bool:
            return is_video(message)

        try:
            result = await discord_fake.wait_for_message(predicate=is_result, timeout=120)
        except TimeoutError:
            pytest.fail(f"no video was posted:\n{bot.log_text()[-6000:]}")
        (video,) = result.files
        assert video.filename.endswith(".mp4")
        assert len(simulator.submissions) == 1
        assert "could not download" not in bot.log_text()
        assert discord_fake.violations == []
    finally:
        await bot.stop()
