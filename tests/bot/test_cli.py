"""``python -m bot animate`` as a member of the public would run it: a child process."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from bot.messages import CATALOGUE, MessageKey
from bot.settings import Settings
from tests.support import media

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DASHSCOPE_", "EMO_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "animate", *args],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )


def test_simulate_writes_a_playable_mp4_and_shows_each_stage(tmp_path: Path) -> None:
    (tmp_path / "face.jpg").write_bytes(media.portrait_jpeg())
    (tmp_path / "voice.ogg").write_bytes(media.voice_note())
    done = _run(
        tmp_path, "face.jpg", "voice.ogg", "--simulate", "--framing", "half-body", "-o", "out.mp4"
    )
    assert done.returncode == 0, done.stderr
    stages = re.findall(r"^\[\s*(\d+\.\d)s\] (.+)$", done.stderr, re.MULTILINE)
    texts = [text for _, text in stages]
    assert texts[0].startswith("checking")
    assert any(text.startswith("rendering") for text in texts)
    assert texts[-1] == "done"
    elapsed = [float(seconds) for seconds, _ in stages]
    assert elapsed == sorted(elapsed)
    with av.open(str(tmp_path / "out.mp4")) as video:
        stream = video.streams.video[0]
        assert (stream.width, stream.height) == (512, 704)
        assert video.streams.audio
        assert float(video.duration or 0) / 1e6 == pytest.approx(9.98, rel=0.1)
    assert "wrote out.mp4" in done.stderr


def test_a_refusal_prints_the_members_message_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "small.png").write_bytes(media.blank(300, 200))
    (tmp_path / "voice.ogg").write_bytes(media.voice_note())
    done = _run(tmp_path, "small.png", "voice.ogg", "--simulate")
    assert done.returncode == 1
    expected = CATALOGUE["en"][MessageKey.IMAGE_TOO_SMALL].format(
        width=300, height=200, minimum=400
    )
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_without_simulate_the_real_provider_needs_a_key(tmp_path: Path) -> None:
    done = _run(tmp_path, "a.jpg", "b.ogg")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Configuration error: DASHSCOPE_API_KEY is required when EMO_PROVIDER=dashscope "
        "(see .env.example)"
    )


async def test_resume_provider_lifts_a_pause_for_every_process(tmp_path: Path) -> None:
    from bot.core import open_database
    from bot.db.meta import MetaStore
    from bot.jobs.gate import ProviderGate

    settings = Settings(dashscope_api_key="sk-x", emo_data_dir=tmp_path / "data")  # type: ignore[call-arg]
    async with open_database(settings) as db:
        await ProviderGate(MetaStore(db)).pause("Arrearage", "unpaid")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DASHSCOPE_", "EMO_"))
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "resume-provider"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(REPO), "DASHSCOPE_API_KEY": "sk-x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Submissions resumed."
    async with open_database(settings) as db:
        assert await ProviderGate(MetaStore(db)).current() is None
