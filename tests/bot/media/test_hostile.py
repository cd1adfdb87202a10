"""Hostile media, one file at a time: each is refused with its own message, in a fraction of
the time and memory it claims, and the odd-but-fine ones are prepared correctly.

The corpus is built at test time (tests/support/hostile_media.py). Memory is the rise of
this process's peak RSS over the call (``/proc/self/clear_refs`` resets the peak).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.errors import UserFacingError
from bot.media import audio as audio_module
from bot.media.audio import prepare_audio
from bot.media.image import _Clock, _shrink_flat, prepare_image
from bot.messages import MessageKey, Param, Phrase
from tests.support import hostile_media, media

MB = 1024 * 1024
PIXELS = 50_000_000  # EMO_MAX_IMAGE_PIXELS' default


@dataclass
class Peak:
    rise_mb: float = 0.0
    seconds: float = 0.0


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


@contextmanager
def measured() -> Iterator[Peak]:
    """The rise of peak RSS, and the time taken, over the block."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # the peak (VmHWM) starts again from the current RSS
    before = _status("VmRSS")
    peak = Peak()
    started = time.monotonic()
    try:
        yield peak
    finally:
        peak.seconds = time.monotonic() - started
        peak.rise_mb = (_status("VmHWM") - before) / MB


@dataclass(frozen=True)
class Hostile:
    name: str
    kind: str  # "image" or "audio"
    make: Callable[[], bytes]
    key: MessageKey
    params: dict[str, Param]


CORPUS = [
    Hostile(
        "Opus packet bomb (2 MB, 16 hours)",
        "audio",
        hostile_media.opus_packet_bomb,
        MessageKey.AUDIO_TOO_LONG,
        {"seconds": 56_977.2, "limit": 60},
    ),
    Hostile(
        "7000² RGBA PNG",
        "image",
        hostile_media.rgba_png,
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        {"megapixels": 49.0, "limit": 25.0},
    ),
    Hostile(
        "AVIF 6900²",
        "image",
        lambda: hostile_media.tiled_image("avif"),
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        {"megapixels": 47.6, "limit": 20.0},
    ),
    Hostile(
        "HEIC 6900²",
        "image",
        lambda: hostile_media.tiled_image("heic"),
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        {"megapixels": 47.6, "limit": 25.0},
    ),
    Hostile(
        "MP4 with 1000 audio streams",
        "audio",
        hostile_media.many_streams_mp4,
        MessageKey.AUDIO_TOO_MANY_STREAMS,
        {"limit": 8},
    ),
    Hostile(
        "MP4 with 9 audio streams",
        "audio",
        lambda: hostile_media.many_streams_mp4(9),
        MessageKey.AUDIO_TOO_MANY_STREAMS,
        {"limit": 8},
    ),
    Hostile("corrupt AVIF", "image", hostile_media.corrupt_avif, MessageKey.IMAGE_UNREADABLE, {}),
    Hostile(
        "WAV at 1 Hz",
        "audio",
        lambda: hostile_media.wav_at(1),
        MessageKey.AUDIO_SAMPLE_RATE,
        {"rate": 1, "minimum": 4000, "maximum": 768_000},
    ),
    Hostile(
        "WAV at 2 MHz",
        "audio",
        lambda: hostile_media.wav_at(2_000_000),
        MessageKey.AUDIO_SAMPLE_RATE,
        {"rate": 2_000_000, "minimum": 4000, "maximum": 768_000},
    ),
    Hostile("0-byte image", "image", lambda: b"", MessageKey.IMAGE_UNREADABLE, {}),
    Hostile("0-byte audio", "audio", lambda: b"", MessageKey.AUDIO_UNREADABLE, {}),
]


def _prepare(kind: str, source: Path, out: Path, **options: object) -> object:
    if kind == "image":
        return prepare_image(source, out / "o.jpg", max_pixels=PIXELS, **options)  # type: ignore[arg-type]
    return prepare_audio(source, out / "o.mp3", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_each_hostile_file_is_refused_with_its_own_message_cheaply(
    case: Hostile, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.write_bytes(case.make())
    with pytest.raises(UserFacingError) as caught, measured() as peak:
        _prepare(case.kind, source, tmp_path)
    assert caught.value.message.key is case.key
    assert caught.value.message.params == case.params
    # Refused from the header or after a little decoding: not the hundreds of MB (and, for
    # the packet bomb, the 45 s) they cost before.
    assert peak.seconds < 5
    assert peak.rise_mb < 50, f"{case.name}: {peak.rise_mb:.0f} MB"
    assert list(tmp_path.glob("o.*")) == []


def test_the_packet_bomb_declares_hours_in_two_megabytes() -> None:
    bomb = hostile_media.opus_packet_bomb()
    assert len(bomb) <= 2_000_000
    assert hostile_media.opus_bomb_seconds(bomb) > 15 * 3600


def test_a_trimmed_packet_bomb_stops_decoding_past_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "bomb.ogg"
    source.write_bytes(hostile_media.opus_packet_bomb())
    with pytest.raises(UserFacingError) as caught, measured() as peak:
        prepare_audio(source, tmp_path / "o.mp3", trim=True)
    # Its 60 s of packet-loss concealment are silence: decoded, judged, and done.
    assert caught.value.message.key is MessageKey.AUDIO_SILENT
    assert peak.seconds < 5


def _streamed_webm(seconds: float) -> bytes:
    """A WebM written to a pipe, as a browser's recorder does: no duration in it."""

    class Pipe:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes) -> int:
            self.data += chunk
            return len(chunk)

    import av

    pipe = Pipe()
    with av.open(pipe, mode="w", format="webm") as output:
        stream = output.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        pcm = media.speech_pcm(seconds, 48_000).astype(np.int16)[np.newaxis, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48_000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return bytes(pipe.data)


def _mp3_claiming(seconds: float, frames: int) -> bytes:
    """``seconds`` of speech as an MP3 whose Info header claims only ``frames`` frames."""
    data = bytearray(
        media.encode_audio(media.speech_pcm(seconds), container="mp3", codec="libmp3lame")
    )
    tag = max(data.find(b"Xing"), data.find(b"Info"))
    assert tag > 0
    data[tag + 8 : tag + 12] = frames.to_bytes(4, "big")
    return bytes(data)


@pytest.mark.parametrize(
    "make",
    [lambda: _streamed_webm(75), lambda: _mp3_claiming(75, frames=100)],
    ids=["no declared length", "a declared length far too short"],
)
def test_decoding_stops_past_the_limit_when_no_header_tells(
    make: Callable[[], bytes], tmp_path: Path
) -> None:
    source = tmp_path / "long"
    source.write_bytes(make())
    with pytest.raises(UserFacingError) as caught:
        prepare_audio(source, tmp_path / "o.mp3")
    assert caught.value.message.key is MessageKey.AUDIO_LONGER_THAN
    assert caught.value.message.params == {"limit": 60}
    prepared = prepare_audio(source, tmp_path / "o.mp3", trim=True)
    assert prepared.trimmed
    assert prepared.seconds == 60
    overrun = audio_module.MAX_SECONDS + audio_module.OVERRUN_SECONDS
    assert 60 < prepared.source_seconds <= overrun + 0.5  # decoded no further than this


def test_a_recording_just_over_the_limit_is_told_its_exact_length(tmp_path: Path) -> None:
    source = tmp_path / "a.wav"
    source.write_bytes(media.wav(media.speech_pcm(61.3)))
    with pytest.raises(UserFacingError) as caught:
        prepare_audio(source, tmp_path / "o.mp3")
    assert caught.value.message.params == {"seconds": 61.3, "limit": 60}


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_work_past_its_time_limit_is_refused(kind: str, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.write_bytes(media.portrait_jpeg() if kind == "image" else media.voice_note())
    with pytest.raises(UserFacingError) as caught:
        _prepare(kind, source, tmp_path, time_limit=0.0)
    assert caught.value.message.key is MessageKey.MEDIA_TOO_COSTLY
    word = MessageKey.WORD_IMAGE if kind == "image" else MessageKey.WORD_AUDIO
    assert caught.value.message.params == {"what": Phrase(key=word)}


def test_hostile_exif_is_ignored_and_never_copied(tmp_path: Path) -> None:
    source = tmp_path / "exif.jpg"
    source.write_bytes(hostile_media.hostile_exif_jpeg())
    prepared = prepare_image(source, tmp_path / "o.jpg", max_pixels=PIXELS)
    assert (prepared.width, prepared.height) == (640, 640)  # orientation 9 means nothing
    with Image.open(prepared.path) as image:
        assert not image.getexif()


def test_a_rotation_survives_a_hostile_exif_block(tmp_path: Path) -> None:
    source = tmp_path / "sideways.jpg"
    source.write_bytes(hostile_media.rotated_portrait_with_hostile_exif())
    prepared = prepare_image(source, tmp_path / "o.jpg", max_pixels=PIXELS)
    with Image.open(prepared.path) as image:
        upright = np.asarray(image.convert("L"), np.float32)
    expected = np.asarray(media.astronaut().convert("L"), np.float32)
    sideways = np.rot90(expected)
    assert np.abs(upright - expected).mean() < 5 < np.abs(upright - sideways).mean()


def test_shrinking_by_bands_equals_one_whole_resize() -> None:
    rng = np.random.default_rng(15)
    picture = Image.fromarray(rng.integers(0, 256, (1500, 1000, 4), np.uint8), "RGBA")
    banded = _shrink_flat(picture, (341, 512), _Clock(None))
    flat = Image.new("RGB", picture.size, (255, 255, 255))
    flat.paste(picture, mask=picture.getchannel("A"))
    whole = flat.resize((341, 512), Image.Resampling.LANCZOS)
    difference = np.abs(np.asarray(banded, np.int16) - np.asarray(whole, np.int16))
    assert difference.max() <= 1


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("25 MP PNG with alpha", lambda: hostile_media.rgba_png(4990, 4990)),
        ("25 MP HEIC", lambda: hostile_media.tiled_image("heic", 4990)),
        ("20 MP AVIF", lambda: hostile_media.tiled_image("avif", 4470)),
    ],
)
def test_the_largest_accepted_photos_decode_under_300_mb(
    name: str, make: Callable[[], bytes], tmp_path: Path
) -> None:
    source = tmp_path / "big"
    source.write_bytes(make())
    with measured() as peak:
        prepared = prepare_image(source, tmp_path / "o.jpg", max_pixels=PIXELS, max_side=2048)
    assert (prepared.width, prepared.height) == (2048, 2048)
    # The rise alone; a media worker adds its 60 MB of imports.
    assert peak.rise_mb < 240, f"{name}: {peak.rise_mb:.0f} MB"


def test_a_progressive_jpeg_is_held_to_the_full_decode_budget(tmp_path: Path) -> None:
    picture = Image.linear_gradient("L").resize((6000, 5000)).convert("RGB")
    baseline, progressive = tmp_path / "baseline.jpg", tmp_path / "progressive.jpg"
    picture.save(baseline, quality=70)
    picture.save(progressive, quality=70, progressive=True)
    # libjpeg decodes a baseline JPEG at 1/2 scale here; a progressive one keeps all of its
    # 30 MP of coefficients while it decodes.
    prepared = prepare_image(baseline, tmp_path / "o.jpg", max_pixels=PIXELS, max_side=2048)
    assert (prepared.width, prepared.height) == (2048, 1707)
    with pytest.raises(UserFacingError) as caught:
        prepare_image(progressive, tmp_path / "o.jpg", max_pixels=PIXELS)
    assert caught.value.message.key is MessageKey.IMAGE_TOO_LARGE_PIXELS
    assert caught.value.message.params == {"megapixels": 30.0, "limit": 25.0}
