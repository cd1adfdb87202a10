from __future__ import annotations

from pathlib import Path

import av
import pytest

from bot.errors import UserFacingError
from bot.media.audio import prepare_audio
from bot.messages import MessageKey

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_a_voice_note_becomes_an_mp3_of_the_same_length(tmp_path: Path) -> None:
    prepared = prepare_audio(FIXTURES / "voice-note-en.ogg", tmp_path / "a.mp3", max_seconds=60)
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
        prepare_audio(source, tmp_path / "a.mp3", max_seconds=60)
    assert caught.value.message.key is MessageKey.AUDIO_UNREADABLE
