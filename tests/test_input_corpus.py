"""What members really upload, through the real bot: each odd input gets the right answer.

One bot process takes the whole corpus in turn, then a normal job: refusals name the
problem and the fix, nothing refused reaches the provider, and the bot stays healthy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from bot.messages import CATALOGUE, MessageKey
from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support import media
from tests.support.e2e import is_video

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ENGLISH = CATALOGUE["en"]
ACCEPTED = "accepted"


def _pattern(key: MessageKey) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", ENGLISH[key])
    return re.compile("^" + ".+?".join(re.escape(part) for part in parts) + "$", re.DOTALL)


PATTERNS = {key: _pattern(key) for key in MessageKey}


def key_of(text: str) -> str:
    """The catalogue key whose English template produced ``text``."""
    if PATTERNS[MessageKey.QUEUED].match(text):
        return ACCEPTED
    matches = [key.value for key, pattern in PATTERNS.items() if pattern.match(text)]
    return matches[0] if len(matches) == 1 else f"unrecognised: {text!r}"


@dataclass
class Case:
    name: str
    expected: str  # a MessageKey value, or ACCEPTED
    image: Callable[[], bytes] = media.portrait_jpeg
    audio: Callable[[], bytes] = media.voice_note
    image_name: str = "photo.jpg"
    audio_name: str = "voice-message.ogg"
    options: dict[str, str | bool] = field(default_factory=dict)
    expire_urls: bool = False


def _speech(seconds: float) -> np.ndarray:
    return media.speech_pcm(seconds)


def _png() -> bytes:
    return (media.FIXTURES / "astronaut.png").read_bytes()


CORPUS = [
    # Images that are not images, or broken ones.
    Case("0-byte image", "image_unreadable", image=lambda: b""),
    Case("text named .png", "image_unreadable", image=lambda: b"hello\n" * 40, image_name="a.png"),
    Case("corrupt JPEG", "image_unreadable", image=lambda: b"\xff\xd8\xff\xe0" + bytes(9000)),
    Case("truncated PNG", "image_unreadable", image=lambda: _png()[: len(_png()) // 2]),
    Case("voice note as the image", "image_unreadable", image=media.voice_note),
    Case("TIFF", "image_format", image=lambda: media.encode(media.astronaut(), "TIFF")),
    Case("decompression bomb", "image_too_large_pixels", image=media.png_bomb),
    Case("300 px", "image_too_small", image=lambda: media.blank(300, 300)),
    Case("20 000 × 600 panorama", "image_aspect", image=lambda: media.blank(20_000, 600, "JPEG")),
    # Images that decode but show no usable person.
    Case("20 000 px wall", "no_face", image=lambda: media.blank(20_000, 2_000, "JPEG")),
    Case("no face", "no_face", image=lambda: media.blank(640, 640)),
    Case("two faces", "several_faces", image=media.two_people),
    Case(
        "head only, half body asked",
        "needs_half_body",
        image=media.head_only,
        options={"framing": "3:4"},
    ),
    # Audio that is not usable.
    Case("0-byte audio", "audio_unreadable", audio=lambda: b""),
    Case("photo as the audio", "audio_unreadable", audio=_png),
    Case("truncated OGG", "audio_unreadable", audio=lambda: media.voice_note()[:1500]),
    Case("MIDI (no decodable sound)", "audio_unreadable", audio=media.midi_file),
    Case("WAV with an unknown codec", "audio_unreadable", audio=media.wav_with_unknown_codec),
    Case("video without sound", "audio_unreadable", audio=media.video_without_sound),
    Case("75 s recording", "audio_too_long", audio=lambda: media.wav(_speech(75))),
    Case(
        "20 MB WAV",
        "audio_too_long",
        audio=lambda: media.wav(media.speech_pcm(110, 48_000), rate=48_000, channels=2),
    ),
    Case("0.3 s recording", "audio_too_short", audio=lambda: media.wav(_speech(0.3))),
    Case("silence", "audio_silent", audio=lambda: media.wav(np.zeros(80_000, np.int16))),
    Case(
        "hiss",
        "audio_silent",
        audio=lambda: media.wav(np.random.default_rng(1).normal(0, 25, 80_000)),
    ),
    Case("26 MB file", "file_too_large", audio=lambda: bytes(26 * 1024 * 1024)),
    Case("expired attachment link", "attachment_unavailable", expire_urls=True),
    # Odd but fine: converted and accepted.
    Case("GIF, first frame", ACCEPTED, image=media.animated_gif, image_name="a.gif"),
    Case("EXIF-rotated phone photo", ACCEPTED, image=media.rotated_jpeg),
    Case("HEIC", ACCEPTED, image=lambda: media.encode(media.astronaut(), "HEIF")),
    Case("AVIF named .jpg", ACCEPTED, image=lambda: media.encode(media.astronaut(), "AVIF")),
    Case("WebP", ACCEPTED, image=lambda: media.encode(media.astronaut(), "WEBP")),
    Case("BMP", ACCEPTED, image=lambda: media.encode(media.astronaut(), "BMP")),
    Case(
        "video file as the audio",
        ACCEPTED,
        audio=lambda: media.encode_audio(_speech(4), container="mp4", codec="aac", video=True),
        audio_name="clip.mp4",
    ),
    Case(
        "M4A/AAC",
        ACCEPTED,
        audio=lambda: media.encode_audio(_speech(4), container="mp4", codec="aac"),
    ),
    Case(
        "FLAC",
        ACCEPTED,
        audio=lambda: media.encode_audio(_speech(4), container="flac", codec="flac"),
    ),
    Case(
        "OGG/Vorbis",
        ACCEPTED,
        audio=lambda: media.encode_audio(
            media.speech_pcm(4, 44_100), container="ogg", codec="vorbis", rate=44_100, channels=2
        ),
    ),
    Case(
        "WebM/Opus",
        ACCEPTED,
        audio=lambda: media.encode_audio(
            media.speech_pcm(4, 48_000), container="webm", codec="libopus", rate=48_000
        ),
    ),
    Case(
        "WAV whose header hides its length",
        ACCEPTED,
        audio=lambda: media.streaming_wav(_speech(4)),
    ),
    Case(
        "75 s recording, trimmed",
        ACCEPTED,
        audio=lambda: media.wav(_speech(75)),
        options={"trim": True},
    ),
]


def test_the_corpus_is_large_enough() -> None:
    refusals = [case for case in CORPUS if case.expected != ACCEPTED]
    assert len(refusals) >= 25
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    assert {case.expected for case in refusals} <= {key.value for key in MessageKey}


async def test_every_odd_input_gets_its_answer_and_the_bot_stays_healthy(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator
) -> None:
    simulator.update_knobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.0)
    simulator.knobs.rate_limits.detect = 100  # the corpus runs back to back
    bot = bot_process(EMO_MAX_ACTIVE_PER_MEMBER="100")  # one member sends the whole corpus
    await bot.start()
    await discord_fake.wait_for_identify(timeout=60)
    member = discord_fake.add_member(name="corpus")
    checking = ENGLISH[MessageKey.CHECKING]

    outcomes: dict[str, str] = {}
    leaked: list[str] = []
    for case in CORPUS:
        before = len(simulator.submissions)
        if case.expire_urls:
            discord_fake.cdn_url_lifetime = -1.0
        try:
            interaction = await discord_fake.invoke_slash(
                "emo animate",
                user_id=member,
                options=case.options,
                attachments={
                    "image": (case.image(), case.image_name),
                    "audio": (case.audio(), case.audio_name),
                },
            )
        finally:
            discord_fake.cdn_url_lifetime = 86_400.0

        def settled(message: FakeMessage) -> bool:
            return message.content not in ("", checking)

        try:
            answer = await interaction.wait_original_edit(settled, timeout=60)
        except TimeoutError:
            pytest.fail(f"{case.name}: no answer\n{bot.log_text()[-4000:]}")
        outcomes[case.name] = key_of(answer.content)
        submitted = len(simulator.submissions) - before
        if case.expected != ACCEPTED and submitted:
            leaked.append(case.name)

    expected = {case.name: case.expected for case in CORPUS}
    assert outcomes == expected
    assert leaked == []

    # Healthy afterwards: the accepted jobs and one more ordinary job all arrive, once each.
    accepted = sum(case.expected == ACCEPTED for case in CORPUS)
    await discord_fake.invoke_slash(
        "emo animate",
        user_id=member,
        attachments={
            "image": (media.portrait_jpeg(), "me.jpg"),
            "audio": (media.voice_note(), "v.ogg"),
        },
    )
    for _ in range(600):
        if len([m for m in discord_fake.messages() if is_video(m)]) >= accepted + 1:
            break
        await asyncio.sleep(0.1)
    videos = [m for m in discord_fake.messages() if is_video(m)]
    assert len(videos) == accepted + 1, bot.log_text()[-4000:]
    assert len(simulator.submissions) == accepted + 1
    assert bot.running
    assert "Traceback" not in bot.log_text()
    assert discord_fake.violations == []
