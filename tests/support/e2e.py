"""Steps the end-to-end tests share: start the bot, attach the sample files, wait for a state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.support.bot_process import BotProcess


async def started(bot: BotProcess, fake: FakeDiscord) -> None:
    """Start ``bot`` and wait until it is connected to the fake Discord."""
    await bot.start()
    try:
        await fake.wait_for_identify(timeout=60)
    except TimeoutError:
        pytest.fail(f"the bot never connected:\n{bot.log_text()}")


def attachments(fixtures: Path, image: str = "astronaut.png") -> dict[str, tuple[bytes, str, str]]:
    """The sample portrait and voice note as /emo animate's two attachments."""
    return {
        "image": ((fixtures / image).read_bytes(), "me.png", "image/png"),
        "audio": ((fixtures / "voice-note-en.ogg").read_bytes(), "voice-message.ogg", "audio/ogg"),
    }


async def until(check: Callable[[], bool], what: str, within: float = 90.0) -> None:
    """Wait until ``check()`` holds; fail the test naming ``what`` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
