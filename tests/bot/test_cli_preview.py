"""``python -m bot animate``: the crop that will be animated, written beside the video, and
``--preview-only``, which stops there (nothing is rendered, nothing charged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

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


def _inputs(tmp_path: Path) -> None:
    (tmp_path / "face.jpg").write_bytes(media.portrait_jpeg())
    (tmp_path / "voice.ogg").write_bytes(media.voice_note())


def test_preview_only_writes_the_crop_and_the_estimate_and_stops(tmp_path: Path) -> None:
    _inputs(tmp_path)
    done = _run(
        tmp_path,
        "face.jpg",
        "voice.ogg",
        "--simulate",
        "--framing",
        "half-body",
        "-o",
        "clip.mp4",
        "--preview-only",
    )
    assert done.returncode == 0, done.stderr
    crop = tmp_path / "clip.crop.jpg"
    assert f"crop that will be animated: {Path('clip.crop.jpg')}" in done.stderr
    with Image.open(crop) as image:
        assert image.format == "JPEG"
        assert image.width * 4 == image.height * 3  # the half body's 3:4
    # 9.98 s at the half body's USD 0.022937 per second.
    assert "estimate: about USD 0.229 for 10.0 s of video (3:4)" in done.stderr
    assert "no video made, nothing charged but the face check" in done.stderr
    assert "rendering" not in done.stderr
    assert not (tmp_path / "clip.mp4").exists()


def test_a_normal_run_prints_where_the_crop_is(tmp_path: Path) -> None:
    _inputs(tmp_path)
    done = _run(tmp_path, "face.jpg", "voice.ogg", "--simulate", "-o", "out.mp4")
    assert done.returncode == 0, done.stderr
    assert "crop that will be animated: out.crop.jpg" in done.stderr
    with Image.open(tmp_path / "out.crop.jpg") as image:
        assert image.width == image.height
    assert (tmp_path / "out.mp4").is_file()
    lines = done.stderr.splitlines()
    crop_line = next(i for i, line in enumerate(lines) if "crop that will be animated" in line)
    render_line = next(i for i, line in enumerate(lines) if "rendering" in line)
    assert crop_line < render_line  # shown before anything is spent
