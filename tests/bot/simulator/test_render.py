"""Units behind the simulator: box geometry, sniffing, audio probing, the MP4, the CLI."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest

from bot.simulator import faces
from bot.simulator.errors import ApiError, ImageRejectedError
from bot.simulator.faces import DetectedImage, compute_boxes, detect_faces
from bot.simulator.media import probe_audio, sniff_audio, sniff_image
from bot.simulator.render import ratio_of, render_talking_head
from bot.simulator.state import BBox, Ratio

from .conftest import ASTRONAUT_FACE, tone_wav

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parents[3]


RATIOS: tuple[Ratio, ...] = ("1:1", "3:4")


def boxes(face: BBox, size: tuple[int, int], ratio: Ratio) -> tuple[BBox, BBox]:
    return compute_boxes(
        DetectedImage(width=size[0], height=size[1], faces=[face]),
        ratio,
        min_face_fraction=0.05,
        max_face_fraction=0.8,
    )


# ------------------------------------------------------------------ geometry


def test_detector_finds_the_astronaut(astronaut_png: bytes) -> None:
    found = detect_faces(astronaut_png)
    assert (found.width, found.height) == (512, 512)
    assert found.faces == [ASTRONAUT_FACE]


def test_boxes_hold_ratio_and_stay_inside() -> None:
    rng = random.Random(7)
    checked = 0
    rejections: set[str] = set()
    for _ in range(2000):
        width, height = rng.randint(400, 3000), rng.randint(400, 3000)
        size = rng.randint(20, min(width, height))
        x = rng.randint(0, width - size)
        y = rng.randint(0, height - size)
        face = (x, y, x + size, y + size)
        for ratio in RATIOS:
            try:
                got_face, ext = boxes(face, (width, height), ratio)
            except ImageRejectedError as rejected:
                rejections.add(rejected.code)
                continue
            checked += 1
            x1, y1, x2, y2 = ext
            assert ratio_of(ext) == ratio
            assert 0 <= x1 < x2 <= width
            assert 0 <= y1 < y2 <= height
            assert x1 <= face[0]
            assert y1 <= face[1]
            assert face[2] <= x2
            assert face[3] <= y2
            assert got_face == face
    assert checked > 1000
    assert rejections <= {"InvalidFile.BodyProportion", "InvalidFile.FullBody"}


def test_box_rejections() -> None:
    with pytest.raises(ImageRejectedError) as tiny:
        boxes((500, 500, 540, 540), (3000, 3000), "1:1")
    assert tiny.value.code == "InvalidFile.BodyProportion"
    with pytest.raises(ImageRejectedError) as huge:
        boxes((0, 0, 450, 450), (500, 500), "1:1")
    assert huge.value.code == "InvalidFile.BodyProportion"
    # Face at the bottom edge: fine as a head shot, not as a half-body shot.
    low_face = (250, 420, 350, 520)
    assert ratio_of(boxes(low_face, (600, 600), "1:1")[1]) == "1:1"
    with pytest.raises(ImageRejectedError) as low:
        boxes(low_face, (600, 600), "3:4")
    assert low.value.code == "InvalidFile.FullBody"
    assert "ratio parameter to 1:1" in low.value.message
    with pytest.raises(ImageRejectedError) as none:
        compute_boxes(
            DetectedImage(600, 600, []), "1:1", min_face_fraction=0.05, max_face_fraction=0.8
        )
    assert none.value.code == "InvalidFile.NoHuman"


def test_missing_opencv_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, astronaut_png: bytes
) -> None:
    faces.load_cascade.cache_clear()
    monkeypatch.setitem(sys.modules, "cv2", None)
    try:
        with pytest.raises(RuntimeError, match=r"emo-bot\[simulator\]"):
            detect_faces(astronaut_png)
    finally:
        faces.load_cascade.cache_clear()


def test_import_loads_no_opencv() -> None:
    code = (
        "import sys, bot.simulator\nassert 'cv2' not in sys.modules and 'numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=20)


# ------------------------------------------------------------------ sniffing and probing


def test_sniffers(
    astronaut_png: bytes, voice_wav: bytes, voice_mp3: bytes, voice_ogg: bytes
) -> None:
    assert sniff_image(astronaut_png) == "png"
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff_image(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert sniff_image(voice_ogg) is None
    assert sniff_audio(voice_wav) == "wav"
    assert sniff_audio(voice_mp3) == "mp3"
    assert sniff_audio(b"\xff\xfb\x90\x00") == "mp3"  # bare MPEG-1 Layer III frame
    assert sniff_audio(b"\xff\xf1\x50\x80") is None  # ADTS AAC
    assert sniff_audio(voice_ogg) is None


def test_probe_measures_decoded_duration(voice_wav: bytes, voice_mp3: bytes) -> None:
    wav = probe_audio(voice_wav)
    mp3 = probe_audio(voice_mp3)
    assert wav.duration == pytest.approx(9.98, abs=0.05)
    assert mp3.duration == pytest.approx(wav.duration, abs=0.06)
    assert probe_audio(tone_wav(61)).duration == pytest.approx(61, abs=0.01)
    with pytest.raises(ApiError) as bad:
        probe_audio(b"RIFF\0\0\0\0WAVEjunk")
    assert bad.value.status == 400


# ------------------------------------------------------------------ the MP4


@pytest.mark.parametrize(
    ("ext", "size"), [((106, 0, 344, 238), (512, 512)), ((82, 9, 367, 389), (512, 704))]
)
def test_render_mp4(
    tmp_path: Path,
    astronaut_png: bytes,
    voice_wav: bytes,
    ext: tuple[int, int, int, int],
    size: tuple[int, int],
) -> None:
    out = tmp_path / "out.mp4"
    started = time.perf_counter()
    result = render_talking_head(astronaut_png, voice_wav, ASTRONAUT_FACE, ext, out)
    elapsed = time.perf_counter() - started
    print(f"rendered {result.duration:.2f}s of video at {size} in {elapsed:.2f}s")
    assert (result.width, result.height) == size
    with av.open(str(out), mode="r") as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == size
        assert video.codec_context.name == "h264"
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert audio.duration is not None
        assert audio.time_base is not None
        assert float(audio.duration * audio.time_base) == pytest.approx(result.duration, abs=0.05)
        assert container.duration is not None
        assert container.duration / 1e6 == pytest.approx(result.duration, rel=0.02)
        frames = list(container.decode(video=0))
    assert len(frames) == result.frames == int(np.ceil(result.duration * 25))
    assert frames[0].format.name == "yuv420p"
    # The mouth region follows the audio: its brightness varies from frame to frame.
    x1, y1, x2, y2 = ASTRONAUT_FACE
    scale_x = size[0] / (ext[2] - ext[0])
    scale_y = size[1] / (ext[3] - ext[1])
    mx = int(((x1 + x2) / 2 - ext[0]) * scale_x)
    my = int((y1 + 0.83 * (y2 - y1) - ext[1]) * scale_y)
    luma = [
        float(f.to_ndarray(format="gray")[my - 4 : my + 4, mx - 8 : mx + 8].mean()) for f in frames
    ]
    assert max(luma) - min(luma) > 20
    corner = [float(f.to_ndarray(format="gray")[:16, :16].mean()) for f in frames[::25]]
    assert max(corner) - min(corner) < 3


def test_render_silence_is_static(tmp_path: Path, astronaut_png: bytes) -> None:
    silence = tone_wav(1)[:44] + b"\0" * 16000  # a 1 s header over 1 s of zeros
    result = render_talking_head(
        astronaut_png, silence, ASTRONAUT_FACE, (106, 0, 344, 238), tmp_path / "s.mp4"
    )
    assert result.duration == pytest.approx(1.0, abs=0.01)
    assert result.frames == 25


# ------------------------------------------------------------------ the standalone server


async def test_cli_serves_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.simulator",
        "--port",
        "0",
        "--api-key",
        "sk-cli",
        "--render-speed",
        "0.01",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        assert line.startswith("EMO simulator ready: http://127.0.0.1:"), line
        base = line.split(": ", 1)[1].strip()
        assert base.endswith("/api/v1")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/tasks/x") as resp:
                assert resp.status == 401
            headers = {"Authorization": "Bearer sk-cli"}
            async with http.get(f"{base}/tasks/x", headers=headers) as resp:
                assert (await resp.json())["output"]["task_status"] == "UNKNOWN"
            async with http.get(base.removesuffix("/api/v1") + "/_sim/knobs") as resp:
                assert (await resp.json())["render_seconds_per_audio_second"] == 0.01
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
