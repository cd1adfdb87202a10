from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from bot.errors import UserFacingError
from bot.media.audio import prepare_audio
from bot.messages import MessageKey

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_a_voice_note_becomes_an_mp3_of_the_same_length(tmp_path: Path) -> None:
    prepared = prepare_audio(FIXTURES / "voice-note-en.ogg", tmp_path / "a.mp3")
    assert prepared.seconds == pytest.approx(9.98, abs=0.05)
    with av.open(str(prepared.path)) as container:
        stream = container.streams.audio[0]
        assert container.format.name == "mp3"
        assert stream.codec_context.name.startswith("mp3")
        assert stream.channels == 1
        assert float(container.duration) / 1e6 == pytest.approx(prepared.seconds, abs=0.1)
    assert prepared.path.stat().st_size < 15 * 1024 * 1024


def test_too_long_is_refused_with_the_length_found(tmp_path: Path) -> None:
    with pytest.raises(UserFacingError) as caught:
        prepare_audio(FIXTURES / "voice-note-en.ogg", tmp_path / "a.mp3", max_seconds=5)
    assert caught.value.message.key is MessageKey.AUDIO_TOO_LONG
    assert caught.value.message.params == {"seconds": 10.0, "limit": 5}
    assert not (tmp_path / "a.mp3").exists()


@pytest.mark.parametrize(
    "payload", [b"", b"not audio at all" * 100, (FIXTURES / "astronaut.png").read_bytes()]
)
def test_unreadable_audio_is_refused(tmp_path: Path, payload: bytes) -> None:
    source = tmp_path / "in"
    source.write_bytes(payload)
    with pytest.raises(UserFacingError) as caught:
        prepare_audio(source, tmp_path / "a.mp3")
    assert caught.value.message.key is MessageKey.AUDIO_UNREADABLE


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with av.open(str(path), mode="w", format="wav") as output:
        stream = output.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.int16)[np.newaxis, :], format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def test_trim_keeps_the_first_sixty_seconds(tmp_path: Path) -> None:
    rate = 16_000
    seconds = 75
    t = np.arange(rate * seconds) / rate
    tone = 8000 * np.sin(2 * np.pi * 220 * t)
    source = _write_wav(tmp_path / "long.wav", tone, rate)
    with pytest.raises(UserFacingError) as caught:
        prepare_audio(source, tmp_path / "a.mp3")
    assert caught.value.message.key is MessageKey.AUDIO_TOO_LONG
    assert caught.value.message.params["seconds"] == 75.0
    prepared = prepare_audio(source, tmp_path / "a.mp3", trim=True)
    assert prepared.trimmed
    assert prepared.source_seconds == pytest.approx(75, abs=0.05)
    with av.open(str(prepared.path)) as container:
        assert float(container.duration) / 1e6 == pytest.approx(60, abs=0.1)


@pytest.mark.parametrize("level", [0, 30])  # digital silence, and hiss at about -60 dBFS
def test_silence_and_near_silence_are_refused(tmp_path: Path, level: int) -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0, level, 16_000 * 5) if level else np.zeros(16_000 * 5)
    source = _write_wav(tmp_path / "quiet.wav", noise)
    with pytest.raises(UserFacingError) as caught:
        prepare_audio(source, tmp_path / "a.mp3")
    assert caught.value.message.key is MessageKey.AUDIO_SILENT
