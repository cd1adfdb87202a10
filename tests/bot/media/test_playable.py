"""A result is posted only when it is an MP4 with a video stream whose first picture decodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.media.playable import NotAVideoError, check_mp4_video
from tests.support import media


def _file(tmp_path: Path, data: bytes, name: str = "result.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_an_mp4_with_a_video_stream_passes(tmp_path: Path) -> None:
    facts = check_mp4_video(_file(tmp_path, media.video_without_sound()))
    assert (facts.width, facts.height) == (128, 128)
    assert facts.seconds == pytest.approx(2.0, abs=0.5)
    with_sound = media.encode_audio(media.speech_pcm(2), container="mp4", codec="aac", video=True)
    assert check_mp4_video(_file(tmp_path, with_sound, "b.mp4")).width == 128


@pytest.mark.parametrize(
    ("what", "data", "reason"),
    [
        ("zero bytes", b"", "no ftyp"),
        ("text", b"<html>Access denied</html>" * 20, "no ftyp"),
        (
            "an MP4 box and nothing after",
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 4096,
            "undecodable",
        ),
    ],
)
def test_what_is_not_a_video_is_refused(
    tmp_path: Path, what: str, data: bytes, reason: str
) -> None:
    with pytest.raises(NotAVideoError, match=reason):
        check_mp4_video(_file(tmp_path, data))


def test_an_mp4_with_sound_only_is_refused(tmp_path: Path) -> None:
    sound_only = media.encode_audio(media.speech_pcm(2), container="mp4", codec="aac")
    with pytest.raises(NotAVideoError, match="no video stream"):
        check_mp4_video(_file(tmp_path, sound_only))


def test_other_containers_are_refused_though_they_hold_video(tmp_path: Path) -> None:
    matroska = media.encode_audio(
        media.speech_pcm(1), container="matroska", codec="aac", video=True
    )
    with pytest.raises(NotAVideoError, match="no ftyp"):
        check_mp4_video(_file(tmp_path, matroska))


def test_a_truncated_mp4_is_refused(tmp_path: Path) -> None:
    whole = media.video_without_sound()
    with pytest.raises(NotAVideoError):
        check_mp4_video(_file(tmp_path, whole[: len(whole) // 3]))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAVideoError, match="unreadable"):
        check_mp4_video(tmp_path / "gone.mp4")
