from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from bot.media.video import fit_video
from tests.support import media


@pytest.fixture(scope="module")
def talking_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s 512×512 H.264 + AAC clip with some motion, like a result from the provider."""
    path = tmp_path_factory.mktemp("video") / "result.mp4"
    face = np.asarray(media.astronaut())
    pcm = media.speech_pcm(6, 44_100)
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 512, 512, "yuv420p"
        video.bit_rate = 600_000
        audio = out.add_stream("aac", rate=44_100)
        audio.layout = "mono"
        for index in range(150):
            frame = np.roll(face, index % 9, axis=0)  # a little movement every frame
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        sound = av.AudioFrame.from_ndarray(pcm[np.newaxis, :], format="s16", layout="mono")
        sound.sample_rate = 44_100
        for packet in audio.encode(sound):
            out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return path


def test_a_video_is_shrunk_under_the_limit_and_stays_playable(
    talking_head: Path, tmp_path: Path
) -> None:
    original = talking_head.stat().st_size
    limit = original // 3
    fitted = tmp_path / "fit.mp4"
    assert fit_video(talking_head, fitted, limit)
    assert fitted.stat().st_size <= limit
    with av.open(str(fitted)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (512, 512)
        assert container.streams.audio
        assert float(container.duration or 0) / 1e6 == pytest.approx(6.0, abs=0.3)
        assert sum(1 for _ in container.decode(video=0)) >= 140


@pytest.mark.parametrize("limit", [20_000, 48_000])
def test_a_limit_too_small_to_watch_gives_up_and_leaves_nothing(
    talking_head: Path, tmp_path: Path, limit: int
) -> None:
    assert not fit_video(talking_head, tmp_path / "fit.mp4", limit)
    assert not (tmp_path / "fit.mp4").exists()
