"""Steps the end-to-end tests share: start the bot, attach the sample files, wait for a state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

import psycopg
import pytest

from bot.simulator import Simulator, SimulatorKnobs
from tests.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.bot_process import BotProcess


async def answer(interaction: FakeInteraction, needle: str, within: float = 30.0) -> FakeMessage:
    """The bot's answer to ``interaction`` once it contains ``needle``; the test fails with
    what the bot did say."""
    try:
        return await interaction.wait_response(lambda m: needle in m.content, timeout=within)
    except TimeoutError:
        said = [m.content for m in (interaction.original_response, *interaction.followups) if m]
        pytest.fail(f"no answer containing {needle!r}; the bot said {said}")


def everything_sent(fake: FakeDiscord) -> str:
    """Every message the bot wrote (channels, DMs, ephemeral answers, each edit) and every
    modal it opened, as one text: where a secret must never be found."""
    parts: list[str] = []
    for message in fake.messages_by_id.values():
        parts += [message.content, *message.content_history]
        parts.append(json.dumps([message.embeds, message.components]))
    for interaction in fake.interactions.values():
        if interaction.modal is not None:
            parts.append(json.dumps(interaction.modal))
        for reply in (interaction.original_response, *interaction.followups):
            if reply is not None:
                parts += [reply.content, *reply.content_history]
    return "\n".join(parts)


@contextlib.asynccontextmanager
async def accounts_simulator(
    accounts: Mapping[str, Sequence[str]], knobs: SimulatorKnobs | None = None
) -> AsyncIterator[Simulator]:
    """The simulator on 127.0.0.1 with several Alibaba Cloud accounts (label -> keys), each
    its own slot and arrears knob; renders of a fraction of a second unless ``knobs`` say."""
    simulator = Simulator(
        knobs=knobs
        or SimulatorKnobs(render_seconds_per_audio_second=0.1, render_overhead_seconds=0.2),
        accounts={label: list(keys) for label, keys in accounts.items()},
    )
    await simulator.start(host="127.0.0.1", port=0)
    try:
        yield simulator
    finally:
        await simulator.close()


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


def is_video(message: FakeMessage) -> bool:
    """A posted result: a message carrying a video (a status card carries only its crop)."""
    return any(file.filename.endswith(".mp4") for file in message.files)


async def until(check: Callable[[], bool], what: str, within: float = 90.0) -> None:
    """Wait until ``check()`` holds; fail the test naming ``what`` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def job_histories(bot: BotProcess) -> list[list[str]]:
    """Each job's states in order, read straight from ``bot``'s database (either backend)."""
    url = bot.environment.get("EMO_DATABASE_URL")
    query = "SELECT job_id, to_state FROM job_events ORDER BY id"
    rows: list[tuple[int, str]]
    if url:
        with psycopg.connect(url) as connection:
            rows = [(int(a), str(b)) for a, b in connection.execute(query).fetchall()]
    else:
        path = Path(bot.environment["EMO_DATA_DIR"]) / "emo-bot.sqlite3"
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute(query).fetchall()
    histories: dict[int, list[str]] = {}
    for job_id, state in rows:
        histories.setdefault(job_id, []).append(state)
    return list(histories.values())
