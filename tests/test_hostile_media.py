"""Hostile media through the real bot: each file is refused with its own message within
5 s, the preparation's memory stays under 300 MB, nothing reaches the provider, and the bot
carries on; six at once keep the bot and its media workers under 1 GB.

Memory is read from /proc for the bot process and its children (the media workers): each
one's peak RSS (VmHWM, reset through ``clear_refs`` before a job) is sampled while the job
runs, so a worker that comes and goes is counted too. The sum of the peaks bounds the
tree's peak from above.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.messages import CATALOGUE, MessageKey
from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support import hostile_media, media
from tests.support.bot_process import BotProcess
from tests.support.e2e import job_histories, started, until
from tests.test_input_corpus import key_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MB = 1024 * 1024
CHECKING = CATALOGUE["en"][MessageKey.CHECKING]


@dataclass(frozen=True)
class Case:
    name: str
    expected: MessageKey
    image: Callable[[], bytes] = media.portrait_jpeg
    audio: Callable[[], bytes] = media.voice_note
    image_name: str = "photo.jpg"
    audio_name: str = "voice-message.ogg"


CORPUS = [
    Case(
        "Opus packet bomb",
        MessageKey.AUDIO_TOO_LONG,
        audio=hostile_media.opus_packet_bomb,
        audio_name="voice.ogg",
    ),
    Case(
        "7000² RGBA PNG",
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        image=hostile_media.rgba_png,
        image_name="a.png",
    ),
    Case(
        "AVIF 6900²",
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        image=lambda: hostile_media.tiled_image("avif"),
        image_name="a.avif",
    ),
    Case(
        "HEIC 6900²",
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        image=lambda: hostile_media.tiled_image("heic"),
        image_name="a.heic",
    ),
    Case(
        "MP4 with 1000 audio streams",
        MessageKey.AUDIO_TOO_MANY_STREAMS,
        audio=hostile_media.many_streams_mp4,
        audio_name="clip.mp4",
    ),
    Case(
        "corrupt AVIF",
        MessageKey.IMAGE_UNREADABLE,
        image=hostile_media.corrupt_avif,
        image_name="a.avif",
    ),
    Case(
        "WAV at 1 Hz",
        MessageKey.AUDIO_SAMPLE_RATE,
        audio=lambda: hostile_media.wav_at(1),
        audio_name="a.wav",
    ),
    Case(
        "hostile EXIF (no face in it)",
        MessageKey.NO_FACE,
        image=hostile_media.hostile_exif_jpeg,
    ),
    Case("0-byte image", MessageKey.IMAGE_UNREADABLE, image=lambda: b""),
    Case("0-byte audio", MessageKey.AUDIO_UNREADABLE, audio=lambda: b""),
]


def _field(pid: int, name: str) -> int | None:
    """A /proc/<pid>/status value in bytes; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (the media workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (name) state ppid …": the name may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return [pid, *children]


@dataclass
class TreeMemory:
    """Peak RSS per process of a tree, from a baseline."""

    root: int
    before: dict[int, int] = field(default_factory=dict)
    peaks: dict[int, int] = field(default_factory=dict)
    most_workers: int = 0

    def start(self) -> None:
        for pid in process_tree(self.root):
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.before[pid] = _field(pid, "VmRSS") or 0
        self.sample()

    def sample(self) -> None:
        tree = process_tree(self.root)
        self.most_workers = max(self.most_workers, len(tree) - 1)
        for pid in tree:
            peak = _field(pid, "VmHWM")
            if peak is not None:
                self.peaks[pid] = max(self.peaks.get(pid, 0), peak)

    @property
    def rise(self) -> int:
        """What the work added at its peak: new processes count in full."""
        return sum(peak - self.before.get(pid, 0) for pid, peak in self.peaks.items())

    @property
    def peak(self) -> int:
        """The tree's peak RSS, bounded from above."""
        return sum(self.peaks.values())


@contextlib.asynccontextmanager
async def watching(bot: BotProcess) -> AsyncIterator[TreeMemory]:
    assert bot.pid is not None
    memory = TreeMemory(bot.pid)
    memory.start()

    async def sample_forever() -> None:
        while True:
            memory.sample()
            await asyncio.sleep(0.01)

    sampler = asyncio.ensure_future(sample_forever())
    try:
        yield memory
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        memory.sample()


def _settled(message: FakeMessage) -> bool:
    return message.content not in ("", CHECKING)


@functools.cache
def _files(case: Case) -> tuple[bytes, bytes]:
    return case.image(), case.audio()


async def _ask(fake: FakeDiscord, member: int, case: Case) -> tuple[str, float]:
    """The answer's catalogue key, and the seconds it took."""
    # Made beforehand: the fake Discord shares this event loop, and must answer the bot.
    image, audio = _files(case)
    started_at = time.monotonic()
    interaction = await fake.invoke_slash(
        "emo animate",
        user_id=member,
        attachments={"image": (image, case.image_name), "audio": (audio, case.audio_name)},
    )
    answer = await interaction.wait_original_edit(_settled, timeout=60)
    return key_of(answer.content), time.monotonic() - started_at


def _most_preparing_at_once(bot: BotProcess) -> int:
    """From the job events in the order written: the most jobs in PREPARING together."""
    path = Path(bot.environment["EMO_DATA_DIR"]) / "emo-bot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT from_state, to_state FROM job_events ORDER BY id").fetchall()
    most = now = 0
    for before, after in rows:
        now += (after == "preparing") - (before == "preparing")
        most = max(most, now)
    return most


async def test_hostile_media_is_refused_quickly_cheaply_and_the_bot_carries_on(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator
) -> None:
    simulator.knobs.rate_limits.detect = 100
    bot = bot_process(EMO_MAX_ACTIVE_PER_MEMBER="100", EMO_MAX_PREPARATIONS="2")
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="attacker")

    for case in CORPUS:
        _files(case)
    outcomes: dict[str, str] = {}
    slow: dict[str, float] = {}
    costly: dict[str, float] = {}
    for case in CORPUS:
        async with watching(bot) as memory:
            key, seconds = await _ask(discord_fake, member, case)
        outcomes[case.name] = key
        print(
            f"{case.name}: {key} in {seconds:.2f} s, +{memory.rise / MB:.0f} MB "
            f"(tree peak {memory.peak / MB:.0f} MB)"
        )
        if seconds >= 5:
            slow[case.name] = seconds
        if memory.rise >= 300 * MB:
            costly[case.name] = memory.rise / MB
    assert outcomes == {case.name: case.expected.value for case in CORPUS}
    assert slow == {}
    assert costly == {}
    assert simulator.submissions == []

    # Six at once: two preparations at a time, the others wait; the tree stays under 1 GB.
    heavy = CORPUS[:6]
    async with watching(bot) as memory:
        answers = await asyncio.gather(*(_ask(discord_fake, member, case) for case in heavy))
    print(f"six at once: tree peak {memory.peak / MB:.0f} MB, {memory.most_workers} workers")
    assert [key for key, _ in answers] == [case.expected.value for case in heavy]
    assert memory.peak < 1024 * MB
    assert memory.most_workers <= 2
    assert _most_preparing_at_once(bot) <= 2
    assert simulator.submissions == []

    # Alive and well: an ordinary job goes all the way.
    key, _ = await _ask(discord_fake, member, Case("ordinary", MessageKey.QUEUED))
    assert key == "accepted"
    for _ in range(300):
        if any(message.files for message in discord_fake.messages()):
            break
        await asyncio.sleep(0.1)
    assert any(message.files for message in discord_fake.messages()), bot.log_text()[-3000:]
    assert len(simulator.submissions) == 1
    assert bot.running
    assert "Traceback" not in bot.log_text()
    histories = job_histories(bot)
    assert all(history[:2] == ["received", "preparing"] for history in histories)


def _job_state(bot: BotProcess, job_id: int) -> str | None:
    path = Path(bot.environment["EMO_DATA_DIR"]) / "emo-bot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else str(row[0])


async def test_a_cancel_stops_the_media_work_under_way(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator
) -> None:
    bot = bot_process(EMO_MAX_ACTIVE_PER_MEMBER="100")
    await started(bot, discord_fake)
    assert bot.pid is not None
    member = discord_fake.add_member(name="canceller")
    refused = Case("0-byte audio", MessageKey.AUDIO_UNREADABLE, audio=lambda: b"")
    key, _ = await _ask(discord_fake, member, refused)  # job 1: a media worker is started
    assert key == refused.expected.value
    [worker] = process_tree(bot.pid)[1:]

    # The worker freezes as a decode stuck in a codec would: no check of its own can run.
    os.kill(worker, signal.SIGSTOP)
    image, audio = _files(Case("ordinary", MessageKey.QUEUED))
    waiting = await discord_fake.invoke_slash(
        "emo animate",
        user_id=member,
        attachments={"image": (image, "me.jpg"), "audio": (audio, "voice.ogg")},
    )
    await until(lambda: _job_state(bot, 2) == "preparing", "job 2 to be prepared", within=30)
    await asyncio.sleep(0.5)  # its image is in the frozen worker now
    cancel = await discord_fake.invoke_slash("emo cancel", user_id=member, options={"job": 2})
    await cancel.wait_original_edit(lambda m: "cancelled" in m.content, timeout=30)
    cancelled_at = time.monotonic()

    # The preparation sees the cancel, and its worker is killed and reaped: not left running
    # unseen until its own time limit (20 s).
    await until(lambda: not Path(f"/proc/{worker}").exists(), "the worker to be gone", within=5)
    assert time.monotonic() - cancelled_at < 5
    answer = await waiting.wait_original_edit(_settled, timeout=30)
    assert key_of(answer.content) == MessageKey.CANCELED.value
    assert _job_state(bot, 2) == "canceled"

    # The next job gets a new worker and goes all the way.
    key, _ = await _ask(discord_fake, member, Case("ordinary", MessageKey.QUEUED))
    assert key == "accepted"
    await until(lambda: any(m.files for m in discord_fake.messages()), "the video", within=60)
    assert len(simulator.submissions) == 1
    assert bot.running
    assert "Traceback" not in bot.log_text()
